/**
 * An in-memory datagram network for tests and simulations: endpoints attach
 * at addresses, and each datagram can be dropped, duplicated or delayed
 * according to a seeded random source and the clock in use.
 * @module
 */
import type { Clock } from "../endpoint/clock.ts";
import { type Address, addressKey, type Datagram, type Transport } from "./transport.ts";

/** How the link mistreats datagrams. */
export interface LinkConditions {
  /** Probability a datagram is lost, 0-1. */
  loss?: number;
  /** Probability a datagram is delivered twice, 0-1. */
  duplicate?: number;
  /** Delivery delay in ms (each datagram), default 1. */
  delay?: number;
  /** Extra random delay up to this many ms, which reorders datagrams. */
  jitter?: number;
  /** Seed for the random choices. */
  seed?: number;
}

/** What happened to one datagram, for traces and test assertions. */
export interface LinkEvent {
  /** The sender's address. */
  from: Address;
  /** The destination address. */
  to: Address;
  /** The datagram's bytes. */
  data: Uint8Array;
  /** What the link did with it. */
  fate: "delivered" | "dropped" | "duplicated";
  /** Clock time it was sent, ms. */
  at: number;
}

/**
 * A lossy in-memory network.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Datagram, MemoryLink, VirtualClock } from "../mod.ts";
 * const clock = new VirtualClock();
 * const link = new MemoryLink(clock, { loss: 0.2, seed: 1 });
 * const a = link.attach({ hostname: "192.0.2.1", port: 5683 });
 * const b = link.attach({ hostname: "192.0.2.2", port: 5683 });
 * const received: Datagram[] = [];
 * b.listen((batch) => received.push(...batch));
 * for (let i = 0; i < 100; i++) a.send([{ data: Uint8Array.of(i), address: b.local }]);
 * await clock.advance(1); // the default delay
 * assert.equal(received.length, link.log.filter((event) => event.fate !== "dropped").length);
 * assert.ok(received.length < 100); // about a fifth lost
 * a.close();
 * b.close();
 * ```
 */
export class MemoryLink {
  readonly #clock: Clock;
  readonly #conditions: Required<LinkConditions>;
  readonly #receivers = new Map<string, (batch: Datagram[]) => void>();
  #random: () => number;
  /** Every datagram sent over the link, with its fate. */
  readonly log: LinkEvent[] = [];

  /** A link on `clock`: no loss, no duplicates and 1 ms delay unless `conditions` say otherwise. */
  constructor(clock: Clock, conditions: LinkConditions = {}) {
    this.#clock = clock;
    this.#conditions = { loss: 0, duplicate: 0, delay: 1, jitter: 0, seed: 1, ...conditions };
    this.#random = seeded(this.#conditions.seed);
  }

  /** Changes the loss probability from now on. */
  setLoss(loss: number): void {
    this.#conditions.loss = loss;
  }

  /** A transport bound to `local` on this link. */
  attach(local: Address): Transport {
    const key = addressKey(local);
    return {
      local,
      listen: (receive) => void this.#receivers.set(key, receive),
      send: (batch) => {
        for (const datagram of batch) this.#carry(local, datagram);
      },
      close: () => void this.#receivers.delete(key),
    };
  }

  #carry(from: Address, { data, address: to }: Datagram): void {
    const copy = data.slice();
    const { loss, duplicate, delay, jitter } = this.#conditions;
    const at = this.#clock.now();
    if (this.#random() < loss) {
      this.log.push({ from, to, data: copy, fate: "dropped", at });
      return;
    }
    const copies = this.#random() < duplicate ? 2 : 1;
    this.log.push({ from, to, data: copy, fate: copies === 2 ? "duplicated" : "delivered", at });
    for (let i = 0; i < copies; i++) {
      this.#clock.setTimer(() => {
        this.#receivers.get(addressKey(to))?.([{ data: copy, address: from }]);
      }, delay + this.#random() * jitter);
    }
  }
}

function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}
