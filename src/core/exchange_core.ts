/**
 * An endpoint's own instance of core.wasm, holding its retransmission table
 * and its duplicate-detection table. Time is a u32 millisecond count and
 * randomness is seeded, so a given clock and seed give the same schedule.
 * @module
 */
import { EVENT_CAPACITY, EVENT_GIVE_UP, EVENTS_OFFSET } from "../../core-as/layout.ts";
import { coreModule } from "./core_module.js";

interface ExchangeExports {
  memory: WebAssembly.Memory;
  sharedBase(): number;
  retransmitInit(slots: number): void;
  dedupInit(slots: number): void;
  randomSeed(seed: number): void;
  schedule(
    peer: number,
    messageId: number,
    now: number,
    ackTimeout: number,
    factorMilli: number,
    max: number,
  ): number;
  acknowledge(peer: number, messageId: number): number;
  rekey(peer: number, oldMessageId: number, newMessageId: number): number;
  pendingCount(): number;
  nextDeadline(): number;
  retransmissionsOf(slot: number): number;
  due(now: number): number;
  dedupCheck(peer: number, messageId: number, now: number, lifetime: number): number;
}

/** What `due()` reports for a slot. */
export type RetransmitEvent = "retransmit" | "give-up";

/** The sending endpoint's §4.8 parameters as the core takes them. */
export interface ScheduleParameters {
  ackTimeout: number;
  ackRandomFactor: number;
  maxRetransmit: number;
}

/** Wraps a millisecond time into the core's u32 clock. */
export function coreTime(ms: number): number {
  return Math.floor(ms) >>> 0;
}

/**
 * Retransmission scheduling and deduplication for one endpoint.
 * @example
 * const core = new ExchangeCore({ retransmitSlots: 64, dedupSlots: 256, seed: 1 });
 * const slot = core.schedule(1, 0x1234, 0, { ackTimeout: 2000, ackRandomFactor: 1.5, maxRetransmit: 4 });
 */
export class ExchangeCore {
  readonly #core: ExchangeExports;
  readonly #events: Int32Array;

  constructor(options: { retransmitSlots: number; dedupSlots: number; seed: number }) {
    this.#core = new WebAssembly.Instance(coreModule).exports as unknown as ExchangeExports;
    this.#core.retransmitInit(options.retransmitSlots);
    this.#core.dedupInit(options.dedupSlots);
    this.#core.randomSeed(options.seed >>> 0);
    // Made after sizing the tables, which grows (and so detaches) the memory.
    this.#events = new Int32Array(
      this.#core.memory.buffer,
      this.#core.sharedBase() + EVENTS_OFFSET,
      EVENT_CAPACITY * 2,
    );
  }

  /** Tracks a CON just sent; returns its slot, or SCHEDULE_FULL / SCHEDULE_DUPLICATE. */
  schedule(peer: number, messageId: number, now: number, p: ScheduleParameters): number {
    return this.#core.schedule(
      peer,
      messageId,
      coreTime(now),
      Math.round(p.ackTimeout),
      Math.round(p.ackRandomFactor * 1000),
      p.maxRetransmit,
    );
  }

  /** Stops tracking the CON an ACK or RST answered; its slot, or -1 when nothing matched. */
  acknowledge(peer: number, messageId: number): number {
    return this.#core.acknowledge(peer, messageId);
  }

  /** Moves an outstanding CON's schedule to a new Message ID (RFC 7641 §4.5.2); its slot, or -1. */
  rekey(peer: number, oldMessageId: number, newMessageId: number): number {
    return this.#core.rekey(peer, oldMessageId, newMessageId);
  }

  /** Outstanding CONs. */
  get pending(): number {
    return this.#core.pendingCount();
  }

  /** Milliseconds from `now` to the earliest deadline (≤ 0 when overdue), or undefined with nothing pending. */
  untilNextDeadline(now: number): number | undefined {
    if (this.#core.pendingCount() === 0) return undefined;
    return (this.#core.nextDeadline() - coreTime(now)) | 0;
  }

  /** Retransmissions made so far for a slot. */
  retransmissions(slot: number): number {
    return this.#core.retransmissionsOf(slot);
  }

  /** Runs every deadline up to `now`, calling `handle` for each retransmission or give-up. */
  due(now: number, handle: (slot: number, event: RetransmitEvent) => void): void {
    let count;
    do {
      count = this.#core.due(coreTime(now));
      // Read all events before handling any: a handler may schedule, and so reuse a freed slot.
      const batch = Array.from({ length: count }, (_, i) => [this.#events[i * 2], this.#events[i * 2 + 1]]);
      for (const [slot, kind] of batch) handle(slot, kind === EVENT_GIVE_UP ? "give-up" : "retransmit");
    } while (count === EVENT_CAPACITY);
  }

  /** Records a received message; its slot (≥ 0) if new, or -(slot + 1) for a duplicate within `lifetime` ms. */
  deduplicate(peer: number, messageId: number, now: number, lifetime: number): number {
    return this.#core.dedupCheck(peer, messageId, coreTime(now), Math.round(lifetime));
  }
}
