/**
 * The Confirmable messages an endpoint has sent (RFC 7252 §4.2, §4.7): at
 * most NSTART in flight per peer, the rest queued; each retransmitted on the
 * core's schedule until an ACK or RST settles it or MAX_RETRANSMIT runs out.
 * The request layer holds an Exchange, never a Message ID.
 * @module
 */
import { SCHEDULE_FULL } from "../../core-as/layout.ts";
import type { MessageLayerCore, RetransmitEvent } from "../core/message_layer_core.ts";
import { encode } from "../message/codec.ts";
import type { Message } from "../message/message.ts";
import { Type } from "../message/type.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { ReplacedError, ResetError, TimeoutError } from "./errors.ts";
import type { TransmissionParameters } from "./params.ts";
import type { Outgoing, Peer } from "./peer.ts";

/** A Confirmable message on its way, as the request layer holds it. */
export interface Exchange {
  /**
   * Resolves with the ACK (empty, or carrying a piggybacked response); rejects
   * with ResetError (RST), TimeoutError (no answer after MAX_RETRANSMIT) or
   * ReplacedError (a newer notification took its place).
   */
  readonly acknowledged: Promise<Message>;
}

class Outstanding implements Exchange {
  readonly acknowledged: Promise<Message>;
  resolve!: (ack: Message) => void;
  reject!: (error: Error) => void;
  /** The core's retransmission slot while in flight; -1 while queued or after it ended. */
  slot = -1;
  coreId = -1;
  messageId = -1;
  bytes?: Uint8Array;
  wire?: Message;
  /** Times these bytes went out: a replacement's first is at its predecessor's next retransmission time. */
  transmissions = 0;
  constructor(public outgoing: Outgoing, readonly peer: Peer, readonly expiresAt = Infinity) {
    this.acknowledged = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/** How the sender reaches the rest of the endpoint. */
export interface ConfirmableHost {
  readonly core: MessageLayerCore;
  readonly clock: Clock;
  readonly parameters: TransmissionParameters;
  /** The core's peer entry for `peer` now (it may have been reused since the Peer was made); -1 if none. */
  coreIdOf(peer: Peer): number;
  transmit(bytes: Uint8Array, message: Message, peer: Peer, retransmission?: number): void;
}

/** The CONs one endpoint has outstanding or queued. */
export class Confirmables {
  readonly #host: ConfirmableHost;
  readonly #bySlot: (Outstanding | undefined)[] = [];
  /** Per peer key: CONs in flight, and the queue behind them (NSTART). */
  readonly #inFlight = new Map<string, Set<Outstanding>>();
  readonly #queues = new Map<string, Outstanding[]>();
  #timer: TimerHandle | undefined;
  #timerDue = Infinity;
  #closed = false;

  constructor(host: ConfirmableHost) {
    this.#host = host;
  }

  /**
   * Sends `message` as a CON to `peer` now, or when the peer has fewer than NSTART in flight; one still
   * queued at `expiresAt` is dropped when its turn comes (it rejects with TimeoutError).
   */
  send(message: Outgoing, peer: Peer, expiresAt = Infinity): Exchange {
    const entry = new Outstanding(message, peer, expiresAt);
    if (this.#closed) {
      entry.reject(new Error("endpoint is closed"));
    } else if ((this.#inFlight.get(peer.key)?.size ?? 0) >= this.#host.parameters.nstart) {
      const queue = this.#queues.get(peer.key) ?? [];
      queue.push(entry);
      this.#queues.set(peer.key, queue);
    } else {
      this.#start(entry);
    }
    return entry;
  }

  /**
   * RFC 7641 §4.5.2: `message` takes over `old`'s retransmission counter and
   * timeout, if that is still unacknowledged: the schedule moves to a new
   * Message ID now, and the new bytes go out when `old` would next have been
   * retransmitted — not at once, so the exponential back-off that keeps a
   * silent peer's link uncongested (RFC 7252 §4.7) holds. `old` rejects with
   * ReplacedError. Otherwise a plain send.
   */
  replace(old: Exchange, message: Outgoing, peer: Peer): Exchange {
    if (!(old instanceof Outstanding) || old.peer.key !== peer.key || this.#closed) {
      return this.send(message, peer);
    }
    if (old.slot < 0 && this.#queues.get(peer.key)?.includes(old)) {
      old.outgoing = message; // still queued: it goes out with the newer content
      return old;
    }
    if (old.slot < 0 || this.#bySlot[old.slot] !== old) return this.send(message, peer);
    const { core, clock } = this.#host;
    const messageId = core.allocateMessageId(old.coreId, clock.now());
    if (messageId < 0) return this.send(message, peer);
    const entry = new Outstanding(message, peer);
    prepare(entry, old.coreId, messageId);
    if (!core.rekey(old.slot, old.coreId, old.messageId, messageId)) return this.send(message, peer);
    entry.slot = old.slot;
    this.#bySlot[old.slot] = entry;
    this.#inFlight.get(peer.key)?.delete(old);
    this.#inFlight.get(peer.key)?.add(entry);
    old.slot = -1;
    old.reject(new ReplacedError("replaced by a newer notification"));
    return entry;
  }

  /** Stops retransmitting (or sending) a CON nobody waits for any more; its promise rejects with `reason`. */
  cancel(exchange: Exchange, reason: Error): void {
    if (!(exchange instanceof Outstanding)) return;
    const queue = this.#queues.get(exchange.peer.key);
    const queued = queue?.indexOf(exchange) ?? -1;
    if (queued >= 0) {
      queue!.splice(queued, 1);
    } else if (exchange.slot >= 0 && this.#bySlot[exchange.slot] === exchange) {
      this.#host.core.cancel(exchange.slot, exchange.coreId, exchange.messageId);
      this.#finish(exchange.slot);
    }
    exchange.reject(reason);
  }

  /** An ACK (or, without `ack`, an RST) settled the CON in `slot`. */
  settle(slot: number, ack: Message | undefined): void {
    const entry = this.#finish(slot);
    if (entry === undefined) return;
    if (ack === undefined) entry.reject(new ResetError(`${entry.peer.key} reset the message (RST)`));
    else entry.resolve(ack);
  }

  /** Every CON in flight or queued to the peer with `key` fails with `reason`, its queue included. */
  failPeer(key: string, reason: Error): void {
    const queue = this.#queues.get(key) ?? [];
    this.#queues.delete(key);
    for (const entry of this.#inFlight.get(key) ?? []) {
      this.#host.core.cancel(entry.slot, entry.coreId, entry.messageId);
      this.#release(entry.slot);
      entry.reject(reason);
    }
    for (const entry of queue) entry.reject(reason);
  }

  /** Every outstanding and queued CON fails. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#host.clock.cancel(this.#timer);
    const closed = new Error("endpoint is closed");
    for (const entry of this.#bySlot) entry?.reject(closed);
    for (const queue of this.#queues.values()) for (const entry of queue) entry.reject(closed);
    this.#bySlot.length = 0;
    this.#inFlight.clear();
    this.#queues.clear();
  }

  #start(entry: Outstanding): void {
    const { core, clock, parameters } = this.#host;
    const now = clock.now();
    const coreId = this.#host.coreIdOf(entry.peer);
    const messageId = coreId < 0 ? -1 : core.allocateMessageId(coreId, now);
    if (messageId >= 0) {
      try {
        prepare(entry, coreId, messageId);
      } catch (error) {
        return entry.reject(error as Error);
      }
    }
    const slot = messageId < 0 ? -1 : core.schedule(coreId, messageId, now, parameters);
    if (slot < 0) {
      entry.reject(
        new Error(
          coreId < 0
            ? "the peer table is full"
            : slot === SCHEDULE_FULL
            ? "too many outstanding Confirmable messages"
            : "no free Message ID",
        ),
      );
      return;
    }
    entry.slot = slot;
    this.#bySlot[slot] = entry;
    const inFlight = this.#inFlight.get(entry.peer.key) ?? new Set();
    this.#inFlight.set(entry.peer.key, inFlight.add(entry));
    entry.transmissions++;
    this.#host.transmit(entry.bytes!, entry.wire!, entry.peer);
    this.#armTimer();
  }

  /** Ends the CON in `slot` and starts the next one queued for its peer. */
  #finish(slot: number): Outstanding | undefined {
    const entry = this.#release(slot);
    if (entry !== undefined) this.#startNext(entry.peer.key);
    return entry;
  }

  /** Takes the CON in `slot` off the books of its peer's CONs in flight. */
  #release(slot: number): Outstanding | undefined {
    const entry = this.#bySlot[slot];
    if (entry === undefined) return undefined;
    this.#bySlot[slot] = undefined;
    entry.slot = -1;
    const key = entry.peer.key;
    const inFlight = this.#inFlight.get(key);
    inFlight?.delete(entry);
    if (inFlight?.size === 0) this.#inFlight.delete(key);
    return entry;
  }

  /** Starts the next CON queued for a peer, if it has room under NSTART. */
  #startNext(key: string): void {
    if (this.#closed || (this.#inFlight.get(key)?.size ?? 0) >= this.#host.parameters.nstart) return;
    const queue = this.#queues.get(key);
    let next = queue?.shift();
    for (
      const now = this.#host.clock.now();
      next !== undefined && next.expiresAt <= now;
      next = queue!.shift()
    ) {
      next.reject(new TimeoutError(`expired while queued behind other CONs to ${key}`));
    }
    if (queue?.length === 0) this.#queues.delete(key);
    if (next !== undefined) this.#start(next);
  }

  /** One timer for the earliest deadline; re-armed only when a deadline earlier than the armed one appears. */
  #armTimer(): void {
    const { core, clock } = this.#host;
    const now = clock.now();
    const wait = core.untilNextDeadline(now);
    if (wait === undefined || this.#closed) return;
    const due = now + Math.max(0, wait);
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    if (this.#timer !== undefined) clock.cancel(this.#timer);
    this.#timerDue = due;
    this.#timer = clock.setTimer(() => this.#onTimer(), Math.max(0, wait));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    const { core, clock, parameters } = this.#host;
    // Every event is matched to its CON before any is acted on: a give-up starts the next CON queued for
    // its peer, which may take a slot another event of this batch has just freed.
    const events: { slot: number; event: RetransmitEvent; entry: Outstanding }[] = [];
    core.due(clock.now(), (slot, event) => {
      const entry = this.#bySlot[slot];
      if (entry !== undefined) events.push({ slot, event, entry });
    });
    const gaveUp = events.filter(({ event }) => event === "give-up");
    for (const { slot } of gaveUp) this.#release(slot);
    for (const { slot, event, entry } of events) {
      if (event === "retransmit" && this.#bySlot[slot] === entry) {
        // A replacement's first transmission is a new message (its own Message ID) on the old schedule.
        const retransmission = entry.transmissions === 0 ? 0 : core.retransmissions(slot);
        entry.transmissions++;
        this.#host.transmit(entry.bytes!, entry.wire!, entry.peer, retransmission);
      }
    }
    for (const { entry } of gaveUp) {
      entry.reject(
        new TimeoutError(
          `no ACK or RST from ${entry.peer.key} after ${parameters.maxRetransmit} retransmissions`,
        ),
      );
      this.#startNext(entry.peer.key);
    }
    this.#armTimer();
  }
}

/** Gives a CON its Message ID and encodes it (throws when it cannot be encoded). */
function prepare(entry: Outstanding, coreId: number, messageId: number): void {
  entry.coreId = coreId;
  entry.messageId = messageId;
  entry.wire = { ...entry.outgoing, type: Type.CON, messageId };
  entry.bytes = encode(entry.wire);
}
