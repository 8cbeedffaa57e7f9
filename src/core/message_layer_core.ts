/**
 * An endpoint's own instance of core.wasm, holding its message-layer tables:
 * peers, duplicate detection, recent NONs and the retransmission schedule.
 * receive() makes every decision about a received datagram in one call; the
 * endpoint acts on the answer. Time is a u32 millisecond count and randomness
 * is seeded, so a given clock and seed give the same behaviour.
 * @module
 */
import * as layout from "../../core-as/layout.ts";
import { type CoreViews, instantiateCore } from "./wasm.ts";
import { messageFromIndex, stage } from "../message/codec.ts";
import type { Message } from "../message/message.ts";
import type { Address } from "../transport/transport.ts";

/** Table sizes of one endpoint's message layer. */
export interface MessageLayerSizes {
  /** Peer table entries. */
  peers: number;
  /** Per peer: recent GET/FETCH requests and responses remembered for duplicate detection. */
  safeWindow: number;
  /** Per peer: NONs sent that an RST may still answer (RFC 7641 §3.6). */
  recentNons: number;
  /** POST/PUT/DELETE/PATCH/iPATCH Message IDs kept for their whole lifetime, across peers. */
  strictEntries: number;
  /** Of those, at most this many for one peer. */
  strictPerPeer: number;
  /** CONs outstanding at once, across peers. */
  retransmitSlots: number;
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
 * The message layer's tables and decisions for one endpoint.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ACTION_DUPLICATE, ACTION_REQUEST } from "../../core-as/layout.ts";
 * import { MessageLayerCore } from "./message_layer_core.ts";
 * const core = new MessageLayerCore(
 *   { peers: 4, safeWindow: 2, recentNons: 2, strictEntries: 8, strictPerPeer: 4, retransmitSlots: 4 },
 *   { exchangeLifetime: 247_000, nonLifetime: 145_000, seed: 1 },
 * );
 * const from = { hostname: "127.0.0.1", port: 40000 };
 * const post = Uint8Array.of(0x40, 0x02, 0x12, 0x34); // CON POST, Message ID 0x1234
 * assert.equal(core.receive(post, from, 0), ACTION_REQUEST);
 * assert.equal(core.receive(post, from, 1000), ACTION_DUPLICATE);
 * ```
 */
export class MessageLayerCore {
  readonly #core: CoreViews;
  readonly #events: Int32Array;
  readonly #slots: Int32Array;
  readonly #addressAt: number;
  /** The sizes the tables were made with. */
  readonly sizes: Readonly<MessageLayerSizes>;

  constructor(
    sizes: MessageLayerSizes,
    options: {
      exchangeLifetime: number;
      nonLifetime: number;
      seed: number;
      /** RFC 7252 §4.7 PROBING_RATE, bytes/s (default 1). */
      probingRate?: number;
      /** Ms of silence after which a peer is quiet: it has not answered recently (default 45,000). */
      quietAfter?: number;
    },
  ) {
    this.sizes = { ...sizes };
    this.#core = instantiateCore((wasm) => {
      wasm.messageLayerInit(
        sizes.peers,
        sizes.safeWindow,
        sizes.recentNons,
        sizes.strictEntries,
        sizes.strictPerPeer,
        sizes.retransmitSlots,
        Math.round(options.exchangeLifetime),
        Math.round(options.nonLifetime),
      );
      wasm.randomSeed(options.seed >>> 0);
      wasm.probingInit(
        Math.max(1, Math.round((options.probingRate ?? 1) * 1000)),
        Math.round(options.quietAfter ?? 45_000),
      );
    });
    this.#slots = this.#core.slots;
    this.#addressAt = this.#core.base + layout.ADDRESS_OFFSET;
    this.#events = new Int32Array(
      this.#core.bytes.buffer,
      this.#core.base + layout.EVENTS_OFFSET,
      layout.EVENT_CAPACITY * 2,
    );
  }

  /** Writes an address into the address area: its text, as Deno reports it, is the key. */
  #stageAddress(address: Address): void {
    const { hostname } = address;
    const length = Math.min(hostname.length, layout.ADDRESS_CAPACITY);
    const bytes = this.#core.bytes;
    for (let i = 0; i < length; i++) bytes[this.#addressAt + i] = hostname.charCodeAt(i) & 0xff;
    this.#slots[layout.SLOT_ADDRESS_LENGTH] = length;
    this.#slots[layout.SLOT_ADDRESS_PORT] = address.port;
  }

  /**
   * Classifies a received datagram from `address` (RFC 7252 §4): parses it,
   * checks it against the peer's dedup windows and the outstanding CONs.
   * Returns an ACTION_* of core-as/layout.ts; the getters below then say
   * which peer, handle and Message ID it concerns.
   */
  receive(data: Uint8Array, address: Address, now: number): number {
    this.#stageAddress(address);
    if (data.length <= layout.MESSAGE_CAPACITY) stage(this.#core.bytes, data, this.#core.rx);
    return this.#core.wasm.receive(data.length, coreTime(now));
  }

  /** The message receive() just parsed (views into `data`). */
  message(data: Uint8Array): Message {
    return messageFromIndex(this.#core, data);
  }

  /** Whether the last receive() parsed its datagram. */
  get parsed(): boolean {
    return this.#slots[layout.SLOT_ERROR] === layout.ERR_NONE;
  }

  /** The views of this instance (for describing a format error). */
  get views(): CoreViews {
    return this.#core;
  }

  /** From the last receive(): the peer entry (-1 for none), and whether it was just given to a newcomer. */
  get peer(): number {
    return this.#slots[layout.SLOT_PEER];
  }
  get peerIsNew(): boolean {
    return this.#slots[layout.SLOT_PEER_NEW] === 1;
  }
  /** From the last receive(): the dedup handle or exchange slot, the recent-NON handle, the Message ID. */
  get handle(): number {
    return this.#slots[layout.SLOT_HANDLE];
  }
  get nonHandle(): number {
    return this.#slots[layout.SLOT_NON_HANDLE];
  }
  get messageId(): number {
    return this.#slots[layout.SLOT_MESSAGE_ID];
  }
  /** From a Busy receive(): seconds until room is expected. */
  get retryAfter(): number {
    return this.#slots[layout.SLOT_RETRY_AFTER];
  }

  /** The peer entry for `address`, added if new (see peerIsNew); -1 when every entry is pinned. */
  peerFor(address: Address, now: number): number {
    this.#stageAddress(address);
    return this.#core.wasm.peerFor(coreTime(now));
  }

  /** A Message ID for a new message to `peer` that is not in use (RFC 7252 §4.4), or -1. */
  allocateMessageId(peer: number, now: number): number {
    return this.#core.wasm.allocateMessageId(peer, coreTime(now));
  }

  /** Remembers a NON sent to `peer`; returns the handle an RST to it will report. */
  recordNon(peer: number, messageId: number, now: number): number {
    return this.#core.wasm.recordNon(peer, messageId, coreTime(now));
  }

  /** Pins (+1) or unpins (-1) a peer entry for state the host keeps on it. */
  hold(peer: number, delta: number): void {
    this.#core.wasm.peerHold(peer, delta);
  }

  /** Whether nothing has come from `peer` for quietAfter ms (RFC 7252 §4.7: it does not respond). */
  quiet(peer: number, now: number): boolean {
    return this.#core.wasm.peerQuiet(peer, coreTime(now)) === 1;
  }

  /** Ms until PROBING_RATE lets the next datagram go to `peer` (0 unless it is quiet). */
  sendDelay(peer: number, now: number): number {
    return this.#core.wasm.peerSendDelay(peer, coreTime(now));
  }

  /** Counts `bytes` sent to `peer` against its PROBING_RATE budget (only while it is quiet). */
  sent(peer: number, bytes: number, now: number): void {
    this.#core.wasm.peerSent(peer, bytes, coreTime(now));
  }

  /** Peer entries in use, and of those the ones pinned at `now`. */
  get peerCount(): number {
    return this.#core.wasm.peerCount();
  }
  peersPinned(now: number): number {
    return this.#core.wasm.peersPinned(coreTime(now));
  }
  /** Strict dedup entries in use. */
  get strictEntries(): number {
    return this.#core.wasm.strictEntries();
  }

  /** Tracks a CON just sent; returns its slot, or SCHEDULE_FULL / SCHEDULE_DUPLICATE. */
  schedule(peer: number, messageId: number, now: number, p: ScheduleParameters): number {
    return this.#core.wasm.schedule(
      peer,
      messageId,
      coreTime(now),
      Math.round(p.ackTimeout),
      Math.round(p.ackRandomFactor * 1000),
      p.maxRetransmit,
    );
  }

  /** Stops retransmitting the CON (peer, Message ID) in `slot`. */
  cancel(slot: number, peer: number, messageId: number): boolean {
    return this.#core.wasm.cancel(slot, peer, messageId) === 1;
  }

  /** Moves an outstanding CON's schedule to a new Message ID (RFC 7641 §4.5.2). */
  rekey(slot: number, peer: number, oldMessageId: number, newMessageId: number): boolean {
    return this.#core.wasm.rekey(slot, peer, oldMessageId, newMessageId) === 1;
  }

  /** Outstanding CONs. */
  get pending(): number {
    return this.#core.wasm.pendingCount();
  }

  /** Milliseconds from `now` to the earliest deadline (≤ 0 when overdue), or undefined with nothing pending. */
  untilNextDeadline(now: number): number | undefined {
    if (this.#core.wasm.pendingCount() === 0) return undefined;
    return (this.#core.wasm.nextDeadline() - coreTime(now)) | 0;
  }

  /** Retransmissions made so far for a slot. */
  retransmissions(slot: number): number {
    return this.#core.wasm.retransmissionsOf(slot);
  }

  /** Runs every deadline up to `now`, calling `handle` for each retransmission or give-up. */
  due(now: number, handle: (slot: number, event: RetransmitEvent) => void): void {
    let count;
    do {
      count = this.#core.wasm.due(coreTime(now));
      // Read all events before handling any: a handler may schedule, and so reuse a freed slot.
      const batch = Array.from({ length: count }, (_, i) => [this.#events[i * 2], this.#events[i * 2 + 1]]);
      for (const [slot, kind] of batch) {
        handle(slot, kind === layout.EVENT_GIVE_UP ? "give-up" : "retransmit");
      }
    } while (count === layout.EVENT_CAPACITY);
  }
}
