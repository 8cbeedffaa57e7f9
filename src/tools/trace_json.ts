/** Trace events as JSON lines (`--trace-json FILE`): one object per datagram, for scripts and notebooks. */
import type { TraceEvent } from "../endpoint/trace.ts";
import { addressKey } from "../transport/transport.ts";
import { bytesToHex } from "./hex.ts";
import { type MessageJson, messageToJson } from "./message_json.ts";
import type { Message } from "../message/message.ts";

/** One traced datagram as JSON: the decoded message's fields at the top level. */
export type TraceJson = Partial<MessageJson> & {
  direction: "in" | "out";
  /** Seconds since the first event of the trace. */
  time: number;
  peer: string;
  local: string;
  /** Which retransmission of a CON this is, 1 … MAX_RETRANSMIT; absent for first transmissions. */
  retransmission?: number;
  duplicate?: boolean;
  resent?: boolean;
  /** Why the datagram is not a CoAP message, when it is not. */
  error?: string;
  /** What the datagram means in its exchange (TraceNotes). */
  notes: string[];
  /** The datagram as sent or received. */
  raw: string;
};

/**
 * The JSON object of one trace event, timed from `start` (ms, the first event's `at`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, type TraceEvent } from "../mod.ts";
 * import { hexToBytes } from "./hex.ts";
 * import { traceToJson } from "./trace_json.ts";
 * const bytes = hexToBytes("42011a2b9f3cbb74656d7065726174757265"); // CON GET /temperature
 * const event: TraceEvent = {
 *   direction: "out",
 *   at: 1000,
 *   peer: { hostname: "127.0.0.1", port: 5683 },
 *   local: { hostname: "0.0.0.0", port: 40000 },
 *   bytes,
 *   message: decode(bytes),
 * };
 * const json = traceToJson(event, 1000, []);
 * assert.deepEqual([json.direction, json.time, json.peer], ["out", 0, "127.0.0.1:5683"]);
 * ```
 */
export function traceToJson(event: TraceEvent, start: number, notes: string[]): TraceJson {
  const json: TraceJson = {
    direction: event.direction,
    time: Number(((event.at - start) / 1000).toFixed(6)),
    peer: addressKey(event.peer),
    local: addressKey(event.local),
    ...(event.message === undefined ? { error: event.error } : messageToJson(inWireOrder(event.message))),
    notes,
    raw: bytesToHex(event.bytes),
  };
  if (event.retransmission) json.retransmission = event.retransmission;
  if (event.duplicate) json.duplicate = true;
  if (event.resent) json.resent = true;
  return json;
}

/**
 * The message with its options in the order they are on the wire. An endpoint
 * traces outgoing messages as the request layer built them, and the encoder sorts.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, encodeString, encodeUint, OptionNumber, Type } from "../mod.ts";
 * import { inWireOrder } from "./trace_json.ts";
 * const message = inWireOrder({
 *   type: Type.CON,
 *   code: Code.Put,
 *   messageId: 1,
 *   token: new Uint8Array(),
 *   options: [
 *     { number: OptionNumber.ContentFormat, value: encodeUint(0) },
 *     { number: OptionNumber.UriPath, value: encodeString("led") },
 *   ],
 *   payload: encodeString("on"),
 * });
 * assert.deepEqual(message.options.map((option) => option.number), [
 *   OptionNumber.UriPath,
 *   OptionNumber.ContentFormat,
 * ]);
 * ```
 */
export function inWireOrder(message: Message): Message {
  // Array.prototype.sort is stable: repeated options (Uri-Path segments) keep their order.
  return { ...message, options: [...message.options].sort((a, b) => a.number - b.number) };
}
