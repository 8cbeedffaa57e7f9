/**
 * What a traced datagram means in the exchange around it: the lab's lessons
 * (an empty ACK then a separate CON with the same token; Observe notifications
 * with new Message IDs and the same token) named as they happen on the wire.
 * @module
 */
import { isRequest, isResponse } from "../message/code.ts";
import { getUintOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { Type } from "../message/type.ts";
import type { TraceEvent } from "../endpoint/trace.ts";
import { addressKey } from "../transport/transport.ts";
import { bytesToHex } from "./hex.ts";

/** Exchanges remembered; bounded for a long-running `serve --trace`, where old ones are long answered. */
const LIMIT = 4096;

/**
 * Remembers the conversation so far and annotates each new datagram. Feed it
 * every event in order; it keeps only the last few thousand Confirmables.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, type TraceEvent } from "../mod.ts";
 * import { hexToBytes } from "./hex.ts";
 * import { TraceNotes } from "./trace_notes.ts";
 * const peer = { hostname: "127.0.0.1", port: 5683 };
 * const local = { hostname: "0.0.0.0", port: 40000 };
 * const trace = (direction: "in" | "out", hex: string): TraceEvent => {
 *   const bytes = hexToBytes(hex);
 *   return { direction, at: 0, peer, local, bytes, message: decode(bytes) };
 * };
 * const notes = new TraceNotes();
 * assert.deepEqual(notes.annotate(trace("out", "42011a2b9f3cb4736c6f77")), []); // CON GET /slow
 * assert.deepEqual(notes.annotate(trace("in", "60001a2b")), ["empty ACK: the response follows separately"]);
 * ```
 */
export class TraceNotes {
  /** CONs by "direction peer mid" → whether it carried a request, and its token. */
  readonly #confirmables = new Map<string, { request: boolean; token: string }>();
  /** Tokens ("peer token") of requests acknowledged with an empty ACK: their response comes separately. */
  readonly #awaitingSeparate = new Set<string>();

  /** Notes for one event, in reading order; empty for an ordinary datagram. */
  annotate(event: TraceEvent): string[] {
    const notes: string[] = [];
    if (event.retransmission) notes.push(`retransmission ${event.retransmission}`);
    if (event.duplicate) notes.push("duplicate: seen before, not processed again");
    if (event.resent) notes.push("answer resent for a duplicate");
    const m = event.message;
    if (m === undefined) return [...notes, `malformed: ${event.error}`];
    const peer = addressKey(event.peer);
    const token = bytesToHex(m.token);
    const answered = this.#confirmables.get(
      `${event.direction === "in" ? "out" : "in"} ${peer} ${m.messageId}`,
    );
    if (m.type === Type.CON) {
      this.#remember(`${event.direction} ${peer} ${m.messageId}`, { request: isRequest(m.code), token });
    }
    if (m.code === 0) {
      if (m.type === Type.ACK && answered?.request) {
        // RFC 7252 §5.2.2: the request is acknowledged now, its response will be a message of its own.
        this.#awaitingSeparate.add(`${peer} ${answered.token}`);
        if (this.#awaitingSeparate.size > LIMIT) this.#awaitingSeparate.delete(first(this.#awaitingSeparate));
        notes.push("empty ACK: the response follows separately");
      } else if (m.type === Type.RST) {
        notes.push(`RST: rejects MID 0x${hex16(m.messageId)}`);
      } else if (m.type === Type.CON) {
        notes.push("ping (empty CON)");
      }
      return notes;
    }
    // A repeat (retransmitted, duplicate, resent) is the same message again: its meaning was noted the first time.
    if (!isResponse(m.code) || event.retransmission || event.duplicate || event.resent) return notes;
    const observe = getUintOption(m, OptionNumber.Observe);
    if (m.type !== Type.ACK && this.#awaitingSeparate.delete(`${peer} ${token}`)) {
      notes.push(`separate response: same token ${token}, new MID`);
    } else if (observe !== undefined) {
      notes.push(
        m.type === Type.ACK
          ? `registered, Observe ${observe}`
          : `notification ${observe}: same token, new MID`,
      );
    }
    return notes;
  }

  #remember(key: string, value: { request: boolean; token: string }): void {
    this.#confirmables.set(key, value);
    if (this.#confirmables.size > LIMIT) this.#confirmables.delete(first(this.#confirmables.keys()));
  }
}

function first<T>(items: Iterable<T>): T {
  for (const item of items) return item;
  throw new RangeError("empty");
}

/** Four hex digits. */
export function hex16(value: number): string {
  return value.toString(16).padStart(4, "0");
}
