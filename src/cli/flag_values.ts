/** Converting flag strings into checked values; every failure is a UsageError naming the flag. */
import { contentFormatNumber, contentFormatShortNames } from "../message/content_format.ts";
import type { ResponseClass } from "../message/no_response.ts";
import { hexToBytes } from "../tools/hex.ts";
import { UsageError } from "./usage_error.ts";

/**
 * A decimal or 0x-hex integer in 0..max.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { integerFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.equal(integerFlag("mid", "0x1234", 0xffff), 4660);
 * assert.throws(() => integerFlag("mid", "70000", 0xffff), UsageError);
 * ```
 */
export function integerFlag(flag: string, text: string, max: number): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= max)) throw new UsageError(`--${flag} ${text}: expected an integer 0..${max}`);
  return value;
}

/**
 * A Content-Format for --content-format and --accept: a number 0..65535 or a registered name, as
 * aiocoap-client takes them ("json", "cbor", "text/plain;charset=utf-8", "link-format", …).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contentFormatFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.equal(contentFormatFlag("accept", "cbor"), 60);
 * assert.equal(contentFormatFlag("accept", "application/json"), 50);
 * assert.equal(contentFormatFlag("accept", "11542"), 11542);
 * assert.throws(() => contentFormatFlag("accept", "jsn"), /expected a number 0\.\.65535 or a name: text, link-format/);
 * ```
 */
export function contentFormatFlag(flag: string, text: string): number {
  // No registered name starts with a digit: what does is a number, decimal or 0x-hex.
  if (/^\d/.test(text)) return integerFlag(flag, text, 0xffff);
  const number = contentFormatNumber(text);
  if (number === undefined) {
    throw new UsageError(
      `--${flag} ${text}: expected a number 0..65535 or a name: ${contentFormatShortNames().join(", ")}`,
    );
  }
  return number;
}

/** A UDP port, 0..65535. */
export function portFlag(flag: string, text: string): number {
  return integerFlag(flag, text, 0xffff);
}

/**
 * A positive number of seconds, returned in milliseconds.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secondsFlag } from "./flag_values.ts";
 * assert.equal(secondsFlag("timeout", "0.2"), 200);
 * ```
 */
export function secondsFlag(flag: string, text: string): number {
  const value = Number(text);
  if (!(text.trim() !== "" && Number.isFinite(value) && value > 0)) {
    throw new UsageError(`--${flag} ${text}: expected a positive number of seconds`);
  }
  return value * 1000;
}

/** Binary multiples, as the byte-size flags take them: 1K = 1024. */
const BYTE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * A number of bytes, 0..max: decimal, or with a binary K, M or G suffix (1M = 1048576).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { byteSizeFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.equal(byteSizeFlag("max-body", "1048576", 2 ** 30), 1048576);
 * assert.equal(byteSizeFlag("max-body", "1M", 2 ** 30), 1048576);
 * assert.equal(byteSizeFlag("max-body", "64k", 2 ** 30), 65536);
 * assert.throws(() => byteSizeFlag("max-body", "2G", 2 ** 30), UsageError);
 * assert.throws(() => byteSizeFlag("max-body", "1.5M", 2 ** 30), UsageError);
 * ```
 */
export function byteSizeFlag(flag: string, text: string, max: number): number {
  const match = /^(\d+)([KMG]?)$/i.exec(text);
  const value = match === null ? NaN : Number(match[1]) * BYTE_UNITS[match[2].toUpperCase()];
  if (!(value >= 0 && value <= max)) {
    throw new UsageError(
      `--${flag} ${text}: expected a number of bytes 0..${max} (suffix K, M or G: 1M = 1048576)`,
    );
  }
  return value;
}

/**
 * A block size: a power of two from 16 to 1024 (RFC 7959 §2.2).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockSizeFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.equal(blockSizeFlag("64"), 64);
 * assert.throws(() => blockSizeFlag("100"), UsageError);
 * ```
 */
export function blockSizeFlag(text: string): number {
  const value = Number(text);
  if (![16, 32, 64, 128, 256, 512, 1024].includes(value)) {
    throw new UsageError(`--block-size ${text}: expected 16, 32, 64, 128, 256, 512 or 1024`);
  }
  return value;
}

/**
 * Response classes for No-Response (RFC 7967): a comma-separated list of 2, 4 and 5.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { responseClassesFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.deepEqual(responseClassesFlag("no-response", "2,5"), [2, 5]);
 * assert.throws(() => responseClassesFlag("no-response", "3"), UsageError);
 * ```
 */
export function responseClassesFlag(flag: string, text: string): ResponseClass[] {
  const classes = text.split(",").map((part) => part.trim());
  if (!classes.every((part) => part === "2" || part === "4" || part === "5")) {
    throw new UsageError(`--${flag} ${text}: expected response classes from 2, 4 and 5, such as 2,4,5`);
  }
  return [...new Set(classes.map(Number) as ResponseClass[])];
}

/**
 * An opaque option value in hex ("0a0b", "0x0a0b", "" for empty) of minLength..maxLength bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { opaqueFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.deepEqual(opaqueFlag("etag", "0a0b", 1, 8), Uint8Array.of(0x0a, 0x0b));
 * assert.deepEqual(opaqueFlag("if-match", "", 0, 8), new Uint8Array(0));
 * assert.throws(() => opaqueFlag("etag", "", 1, 8), UsageError);
 * assert.throws(() => opaqueFlag("etag", "0g", 1, 8), UsageError);
 * ```
 */
export function opaqueFlag(flag: string, text: string, minLength: number, maxLength: number): Uint8Array {
  let value: Uint8Array;
  try {
    value = hexToBytes(text);
  } catch (error) {
    throw new UsageError(`--${flag} ${text}: ${(error as Error).message}`);
  }
  if (value.length < minLength || value.length > maxLength) {
    throw new UsageError(
      `--${flag} ${text}: expected ${minLength}-${maxLength} bytes in hex, got ${value.length}`,
    );
  }
  return value;
}

/**
 * `--option NUMBER=HEX`: any option by number, its value in hex (empty for an empty value), as coap-client's
 * `-O`. A value of up to 8,192 bytes is taken: the encoder then refuses what does not fit a message.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionFlag } from "./flag_values.ts";
 * import { UsageError } from "./usage_error.ts";
 * assert.deepEqual(optionFlag("option", "2048=0a0b"), { number: 2048, value: Uint8Array.of(0x0a, 0x0b) });
 * assert.deepEqual(optionFlag("option", "5="), { number: 5, value: new Uint8Array(0) });
 * assert.throws(() => optionFlag("option", "2048"), UsageError);
 * assert.throws(() => optionFlag("option", "70000=00"), UsageError);
 * ```
 */
export function optionFlag(flag: string, text: string): { number: number; value: Uint8Array } {
  const match = /^(\d+|0x[0-9a-f]+)=(.*)$/i.exec(text);
  if (!match) throw new UsageError(`--${flag} ${text}: expected NUMBER=HEX, for example 2048=0a0b`);
  return { number: integerFlag(flag, match[1], 0xffff), value: opaqueFlag(flag, match[2], 0, 8192) };
}
