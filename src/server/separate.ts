/**
 * Requests whose handler does not answer at once (RFC 7252 §5.2.2): an empty ACK when it takes longer than
 * the separate-response delay, the response later as its own CON. Such requests are counted while the
 * handler runs and until the separate response is acknowledged, per peer and in all, so a flood of slow
 * requests cannot queue without bound: beyond the limits the server answers 5.03 with Max-Age before
 * running anything. A handler past its deadline gets the client a 5.03, and a separate response that waits
 * longer than its lifetime (queued behind other CONs to the peer, or unacknowledged) is dropped.
 * @module
 */
import { Code } from "../message/code.ts";
import { encodeString } from "../message/option_value.ts";
import { Type } from "../message/type.ts";
import type { Endpoint, Exchange, Inbound, Outgoing } from "../endpoint/endpoint.ts";
import { TimeoutError } from "../endpoint/errors.ts";
import type { TimerHandle } from "../endpoint/clock.ts";

/** The bounds and times of separate responses. */
export interface SeparateLimits {
  /** Ms a handler may take before the request is acknowledged and answered separately. */
  delay: number;
  handlerTimeout: number;
  lifetime: number;
  maxPerPeer: number;
  max: number;
}

/** Sends an answer (piggybacked, NON or separate CON) and returns the CON's exchange, if it sent one. */
export type Answer = (response: Outgoing, separate: boolean) => Exchange | undefined;

interface Pending {
  readonly peerKey: string;
  /** When this request's slot frees up at the latest (handler deadline, then the response's lifetime). */
  until: number;
  /** Its timers: the empty ACK's, then the handler's deadline or the response's expiry. */
  readonly timers: Set<TimerHandle>;
}

/**
 * The requests of one server that are answered later.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, decode, Endpoint, VirtualClock } from "../mod.ts";
 * import { SeparateResponses } from "./separate.ts";
 * const clock = new VirtualClock();
 * const sent: Uint8Array[] = [];
 * const transport = {
 *   local: { hostname: "10.0.0.1", port: 5683 },
 *   listen: () => {},
 *   send: (batch: { data: Uint8Array }[]) => void sent.push(...batch.map((d) => d.data)),
 *   close: () => {},
 * };
 * const endpoint = new Endpoint(transport, { clock });
 * const separate = new SeparateResponses(endpoint, {
 *   delay: 500,
 *   handlerTimeout: 10_000,
 *   lifetime: 93_000,
 *   maxPerPeer: 1,
 *   max: 10,
 * });
 * const peer = endpoint.peer({ hostname: "10.0.0.2", port: 40000 });
 * const [token, payload] = [Uint8Array.of(1), new Uint8Array()];
 * const message = { ...decode(Uint8Array.of(0x40, Code.Get, 0, 1)), token, payload }; // a CON GET
 * separate.wait({ message, peer, handle: -1, size: 5, at: 0 }, new Promise(() => {}), () => undefined);
 * assert.ok(separate.busy(peer) > 0); // one slow request in progress is this peer's limit
 * await clock.advance(10_000); // the handler's deadline: 5.03, and the slot is free again
 * assert.equal(separate.busy(peer), 0);
 * endpoint.close();
 * ```
 */
export class SeparateResponses {
  readonly #endpoint: Endpoint;
  readonly #limits: SeparateLimits;
  /** Every request in progress, oldest first, and per peer. */
  readonly #all = new Set<Pending>();
  readonly #byPeer = new Map<string, Set<Pending>>();

  constructor(endpoint: Endpoint, limits: SeparateLimits) {
    this.#endpoint = endpoint;
    this.#limits = limits;
  }

  /** Requests in progress. */
  get size(): number {
    return this.#all.size;
  }

  /**
   * 0 when the peer may have another request in progress; otherwise the seconds until the oldest one in the
   * way frees its slot at the latest, for the 5.03's Max-Age (RFC 7252 §5.9.3.4).
   */
  busy(peer: { key: string }): number {
    const ofPeer = this.#byPeer.get(peer.key);
    if (ofPeer !== undefined && ofPeer.size >= this.#limits.maxPerPeer) return this.#retryAfter(ofPeer);
    if (this.#all.size >= this.#limits.max) return this.#retryAfter(this.#all);
    return 0;
  }

  /**
   * Answers `inbound` once `response` settles: piggybacked if that is within the delay, else after an empty
   * ACK as a CON (a NON request gets a NON). `answer` sends; a 5.03 goes instead when the handler overruns.
   */
  wait(
    inbound: Inbound,
    response: Promise<Outgoing>,
    answer: Answer,
    acknowledged: () => boolean = () => false,
  ): void {
    const pending = this.#add(inbound.peer.key, this.#endpoint.clock.now() + this.#limits.handlerTimeout);
    // The answer may go out as a separate CON later: the peer's entry (its Message IDs) must stay.
    const release = this.#endpoint.hold(inbound.peer);
    let separate = false;
    this.#setTimer(pending, () => {
      // RFC 7252 §5.2.2: acknowledge now so the client stops retransmitting; the response follows as a CON.
      separate = inbound.message.type === Type.CON;
      if (!acknowledged()) this.#endpoint.acknowledge(inbound);
    }, this.#limits.delay);
    let done = false;
    const finish = (outgoing: Outgoing) => {
      if (done || !this.#all.has(pending)) return;
      done = true;
      this.#cancelTimers(pending);
      release();
      // The handler may have acknowledged the request itself (CoapRequest.acknowledge), before the delay.
      const exchange = answer(outgoing, separate || acknowledged());
      if (exchange === undefined) return this.#remove(pending);
      pending.until = this.#endpoint.clock.now() + this.#limits.lifetime;
      this.#setTimer(
        pending,
        () => this.#endpoint.cancel(exchange, new TimeoutError("the separate response waited too long")),
        this.#limits.lifetime,
      );
      // Acknowledged, or the client went away or reset it: either way its slot is free.
      const settled = () => this.#remove(pending);
      exchange.acknowledged.then(settled, settled);
    };
    this.#setTimer(
      pending,
      () => finish(serviceUnavailable(inbound.message.token)),
      this.#limits.handlerTimeout,
    );
    response.then(finish);
  }

  /** Stops every timer (the server is closing; the endpoint fails the separate responses in flight). */
  clear(): void {
    for (const pending of this.#all) this.#cancelTimers(pending);
    this.#all.clear();
    this.#byPeer.clear();
  }

  #setTimer(pending: Pending, callback: () => void, delay: number): void {
    const timer = this.#endpoint.clock.setTimer(() => {
      pending.timers.delete(timer);
      callback();
    }, delay);
    pending.timers.add(timer);
  }

  #cancelTimers(pending: Pending): void {
    for (const timer of pending.timers) this.#endpoint.clock.cancel(timer);
    pending.timers.clear();
  }

  #add(peerKey: string, until: number): Pending {
    const pending: Pending = { peerKey, until, timers: new Set() };
    this.#all.add(pending);
    let ofPeer = this.#byPeer.get(peerKey);
    if (ofPeer === undefined) {
      ofPeer = new Set();
      this.#byPeer.set(peerKey, ofPeer);
    }
    ofPeer.add(pending);
    return pending;
  }

  #remove(pending: Pending): void {
    this.#cancelTimers(pending);
    if (!this.#all.delete(pending)) return;
    const ofPeer = this.#byPeer.get(pending.peerKey)!;
    ofPeer.delete(pending);
    if (ofPeer.size === 0) this.#byPeer.delete(pending.peerKey);
  }

  #retryAfter(pending: Set<Pending>): number {
    const oldest: Pending = pending.values().next().value!;
    return Math.max(1, Math.ceil((oldest.until - this.#endpoint.clock.now()) / 1000));
  }
}

/** The handler overran its deadline: 5.03 Service Unavailable (RFC 7252 §5.9.3.4). */
function serviceUnavailable(token: Uint8Array): Outgoing {
  return {
    code: Code.ServiceUnavailable,
    token,
    options: [],
    payload: encodeString("the handler took too long"),
  };
}
