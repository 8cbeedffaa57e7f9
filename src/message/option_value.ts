/**
 * Building and reading option values: minimal-length uints (RFC 7252 §3.2),
 * Block1/Block2 (RFC 7959 §2.2), strings, and Uri-Path/Uri-Query with
 * percent-encoding (RFC 7252 §6.4-6.5).
 * @module
 */

import { allocateBytes, utf8Bytes } from "../bytes.ts";

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();
// A string option's bytes are its value (RFC 7252 §3.2): a leading U+FEFF is a character of it, not a BOM to
// drop, or "\ufeffled" would name /led.
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A uint as the shortest big-endian byte string (zero is empty).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeUint } from "../mod.ts";
 * assert.deepEqual(encodeUint(300), Uint8Array.of(1, 44));
 * assert.deepEqual(encodeUint(0), new Uint8Array()); // RFC 7252 §3.2: zero is the empty value
 * ```
 */
export function encodeUint(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`uint option value ${value} is not an integer in 0..4294967295`);
  }
  if (value === 0) return EMPTY;
  const length = value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
  const bytes = allocateBytes(length);
  for (let i = length - 1, rest = value; i >= 0; i--, rest = Math.floor(rest / 256)) bytes[i] = rest & 0xff;
  return bytes;
}

/**
 * Reads a big-endian uint; leading zero bytes are tolerated, as §3.2 asks.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeUint } from "../mod.ts";
 * assert.equal(decodeUint(Uint8Array.of(1, 44)), 300);
 * ```
 */
export function decodeUint(bytes: Uint8Array): number {
  let value = 0;
  for (const byte of bytes) value = value * 256 + byte;
  return value;
}

/** A Block1/Block2 option value (RFC 7959 §2.2). */
export interface Block {
  /** Block number. */
  readonly num: number;
  /** More blocks follow. */
  readonly more: boolean;
  /** Size exponent: the block holds 2^(szx+4) bytes. */
  readonly szx: number;
}

/**
 * Encodes a Block1/Block2 value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBlock } from "../mod.ts";
 * assert.deepEqual(encodeBlock({ num: 2, more: true, szx: 6 }), Uint8Array.of(0x2e));
 * ```
 */
export function encodeBlock(block: Block): Uint8Array {
  if (block.szx < 0 || block.szx > 6 || !Number.isInteger(block.szx)) {
    throw new RangeError(`block size exponent ${block.szx} is not 0..6`);
  }
  if (!Number.isInteger(block.num) || block.num < 0 || block.num > 0xfffff) {
    throw new RangeError(`block number ${block.num} is not 0..1048575`);
  }
  return encodeUint(block.num * 16 + (block.more ? 8 : 0) + block.szx);
}

/**
 * Reads a Block1/Block2 value.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockSize, decodeBlock } from "../mod.ts";
 * const block = decodeBlock(Uint8Array.of(0x2e));
 * assert.deepEqual(block, { num: 2, more: true, szx: 6 });
 * assert.equal(blockSize(block.szx), 1024);
 * ```
 */
export function decodeBlock(bytes: Uint8Array): Block {
  const value = decodeUint(bytes);
  return { num: Math.floor(value / 16), more: (value & 8) !== 0, szx: value & 7 };
}

/** Block size in bytes for a size exponent: 16 … 1024. */
export function blockSize(szx: number): number {
  return 16 << szx;
}

/** UTF-8 bytes of a string option value or payload. */
export function encodeString(text: string): Uint8Array {
  return utf8Bytes(text);
}

/**
 * A string option value, every byte of it (a leading U+FEFF is kept); invalid UTF-8 throws a TypeError.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeString } from "../mod.ts";
 * assert.equal(decodeString(Uint8Array.of(0xef, 0xbb, 0xbf, 0x6c, 0x65, 0x64)), "\ufeffled");
 * assert.throws(() => decodeString(Uint8Array.of(0xff)), TypeError);
 * ```
 */
export function decodeString(bytes: Uint8Array): string {
  // Uri-Path segments are short ASCII nearly always; building those directly skips the decoder's native call.
  if (bytes.length > 32) return utf8Strict.decode(bytes);
  let text = "";
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) return utf8Strict.decode(bytes);
    text += String.fromCharCode(bytes[i]);
  }
  return text;
}

/** Whether the bytes are valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Splits a URI path into Uri-Path segment values, percent-decoding each
 * (RFC 7252 §6.4 step 8). "/" and "" give no segments.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeString, splitUriPath } from "../mod.ts";
 * assert.deepEqual(splitUriPath("/a/b%2Fc").map(decodeString), ["a", "b/c"]);
 * ```
 */
export function splitUriPath(path: string): Uint8Array[] {
  const trimmed = path.startsWith("/") ? path.slice(1) : path;
  if (trimmed === "") return [];
  return trimmed.split("/").map(percentDecode);
}

/**
 * Splits a query ("a=1&b=2", with or without "?") into Uri-Query values (§6.4 step 9).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeString, splitUriQuery } from "../mod.ts";
 * assert.deepEqual(splitUriQuery("?a=1&b=x%26y").map(decodeString), ["a=1", "b=x&y"]);
 * ```
 */
export function splitUriQuery(query: string): Uint8Array[] {
  const trimmed = query.startsWith("?") ? query.slice(1) : query;
  if (trimmed === "") return [];
  return trimmed.split("&").map(percentDecode);
}

/**
 * Joins Uri-Path values into a path with a leading "/", percent-encoding
 * what a path segment may not hold (§6.5).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeString, joinUriPath } from "../mod.ts";
 * assert.equal(joinUriPath([encodeString("a"), encodeString("b/c")]), "/a/b%2Fc");
 * ```
 */
export function joinUriPath(segments: Uint8Array[]): string {
  return "/" + segments.map((segment) => percentEncode(segment, PATH_SAFE)).join("/");
}

/**
 * Joins Uri-Query values with "&" (no leading "?"), percent-encoding "&" and
 * other reserved bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeString, joinUriQuery } from "../mod.ts";
 * assert.equal(joinUriQuery([encodeString("a=1"), encodeString("b=x&y")]), "a=1&b=x%26y");
 * ```
 */
export function joinUriQuery(queries: Uint8Array[]): string {
  return queries.map((query) => percentEncode(query, QUERY_SAFE)).join("&");
}

// RFC 3986 unreserved, sub-delims (less "&" in queries), ":" and "@"; "=" stays readable in queries.
const PATH_SAFE = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const QUERY_SAFE = /[A-Za-z0-9\-._~!$'()*+,;=:@/?]/;

function percentEncode(bytes: Uint8Array, safe: RegExp): string {
  let text = "";
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    text += byte < 0x80 && safe.test(char) ? char : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return text;
}

function percentDecode(text: string): Uint8Array {
  const raw = utf8.encode(text);
  const out = new Uint8Array(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25 /* % */) {
      const hex = String.fromCharCode(raw[i + 1] ?? 0, raw[i + 2] ?? 0);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw new URIError(`bad percent-encoding "%${hex}" in "${text}"`);
      }
      out[length++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[length++] = raw[i];
    }
  }
  return out.slice(0, length);
}
