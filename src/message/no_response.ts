/**
 * The No-Response option (RFC 7967): the response classes a client says it
 * does not want, as the option's bits.
 * @module
 */
import { codeClass } from "./code.ts";
import type { Message } from "./message.ts";
import { OptionNumber } from "./option.ts";
import { decodeUint, encodeUint } from "./option_value.ts";

/** A response class a request can decline: 2.xx, 4.xx or 5.xx. */
export type ResponseClass = 2 | 4 | 5;

/** Every class: a request declining all of them wants no response at all. */
export const ALL_RESPONSE_CLASSES: readonly ResponseClass[] = [2, 4, 5];

/** RFC 7967 §2.1, table 2: class c is declined by bit c − 1 (2 = 2.xx, 8 = 4.xx, 16 = 5.xx). */
const classBit = (responseClass: number): number => 1 << (responseClass - 1);

/**
 * The No-Response option's value declining `classes`; `[]` is value 0, "interested in all responses".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNoResponse } from "./no_response.ts";
 * assert.deepEqual(encodeNoResponse([2, 4, 5]), Uint8Array.of(26));
 * assert.deepEqual(encodeNoResponse([]), new Uint8Array(0));
 * ```
 */
export function encodeNoResponse(classes: readonly ResponseClass[]): Uint8Array {
  return encodeUint(classes.reduce((bits, responseClass) => bits | classBit(responseClass), 0));
}

/**
 * Whether `request` declines a response with `code` (RFC 7967 §2). Only the first No-Response counts, and
 * one longer than its 0–1 bytes is no option at all, as the server ignores such an elective option
 * (RFC 7252 §5.4.1, §5.4.5).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, decode, OptionNumber } from "../mod.ts";
 * import { declines } from "./no_response.ts";
 * const request = { ...decode(Uint8Array.of(0x50, 0x01, 0, 1)), options: [
 *   { number: OptionNumber.NoResponse, value: Uint8Array.of(2) }, // not interested in 2.xx
 * ] };
 * assert.equal(declines(request, Code.Content), true);
 * assert.equal(declines(request, Code.NotFound), false);
 * ```
 */
export function declines(request: Message, code: number): boolean {
  const option = request.options.find((candidate) => candidate.number === OptionNumber.NoResponse);
  if (option === undefined || option.value.length > 1) return false;
  return (decodeUint(option.value) & classBit(codeClass(code))) !== 0;
}
