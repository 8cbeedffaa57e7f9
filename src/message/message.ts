/**
 * The Message type and accessors for its options.
 * @module
 */
import type { Type } from "./type.ts";
import { OptionNumber } from "./option.ts";
import { decodeString, decodeUint, joinUriPath, joinUriQuery } from "./option_value.ts";

/** One option: its number and raw value. */
export interface CoapOption {
  /** The option number (RFC 7252 §5.10, the IANA CoAP Option Numbers registry). */
  readonly number: number;
  /** The raw value bytes, as on the wire. */
  readonly value: Uint8Array;
}

/**
 * A CoAP message (RFC 7252 §3). Options are kept in the order they are
 * encoded: ascending by number, repeated options in their given order.
 */
export interface Message {
  /** CON, NON, ACK or RST (RFC 7252 §4). */
  type: Type;
  /** Method or response code; see `Code`. */
  code: number;
  /** 16-bit Message ID: the message layer's duplicate detection and ACK matching. */
  messageId: number;
  /** 0-8 bytes: the request layer's request/response matching. */
  token: Uint8Array;
  /** The options, ascending by number (repeated ones in their given order). */
  options: CoapOption[];
  /** The payload; empty when there is none (no payload marker is sent). */
  payload: Uint8Array;
}

/**
 * The first value of an option, or undefined.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, getOption, type Message, OptionNumber, Type } from "../mod.ts";
 * const message: Message = {
 *   type: Type.CON,
 *   code: Code.Get,
 *   messageId: 1,
 *   token: new Uint8Array(),
 *   options: [{ number: OptionNumber.ETag, value: Uint8Array.of(0xab) }],
 *   payload: new Uint8Array(),
 * };
 * assert.deepEqual(getOption(message, OptionNumber.ETag), Uint8Array.of(0xab));
 * assert.equal(getOption(message, OptionNumber.MaxAge), undefined);
 * ```
 */
export function getOption(message: Message, number: number): Uint8Array | undefined {
  for (const option of message.options) if (option.number === number) return option.value;
  return undefined;
}

/** Every value of a repeatable option, in order. */
export function getOptions(message: Message, number: number): Uint8Array[] {
  const values: Uint8Array[] = [];
  for (const option of message.options) if (option.number === number) values.push(option.value);
  return values;
}

/**
 * A uint option's value, or undefined when absent.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Code,
 *   ContentFormat,
 *   encodeUint,
 *   getUintOption,
 *   type Message,
 *   OptionNumber,
 *   Type,
 * } from "../mod.ts";
 * const message: Message = {
 *   type: Type.CON,
 *   code: Code.Get,
 *   messageId: 1,
 *   token: new Uint8Array(),
 *   options: [{ number: OptionNumber.ContentFormat, value: encodeUint(ContentFormat.TextPlain) }],
 *   payload: new Uint8Array(),
 * };
 * assert.equal(getUintOption(message, OptionNumber.ContentFormat), ContentFormat.TextPlain); // 0
 * ```
 */
export function getUintOption(message: Message, number: number): number | undefined {
  const value = getOption(message, number);
  return value === undefined ? undefined : decodeUint(value);
}

/** A string option's value, or undefined when absent. */
export function getStringOption(message: Message, number: number): string | undefined {
  const value = getOption(message, number);
  return value === undefined ? undefined : decodeString(value);
}

/**
 * The request's path from its Uri-Path options, percent-encoded, with a leading "/".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, encodeString, type Message, OptionNumber, Type, uriPath } from "../mod.ts";
 * const message: Message = {
 *   type: Type.CON,
 *   code: Code.Get,
 *   messageId: 1,
 *   token: new Uint8Array(),
 *   options: [{ number: OptionNumber.UriPath, value: encodeString("temperature") }],
 *   payload: new Uint8Array(),
 * };
 * assert.equal(uriPath(message), "/temperature");
 * ```
 */
export function uriPath(message: Message): string {
  return joinUriPath(getOptions(message, OptionNumber.UriPath));
}

/** The request's query from its Uri-Query options ("a=1&b=2"), or "" when none. */
export function uriQuery(message: Message): string {
  return joinUriQuery(getOptions(message, OptionNumber.UriQuery));
}
