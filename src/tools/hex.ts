/** Hex text to bytes and back, for the CLI and tools. */

/**
 * Parses hex ("44 01 12 34", "0x4401…", with spaces or colons) into bytes.
 * Throws a SyntaxError naming the problem.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hexToBytes } from "./hex.ts";
 * assert.deepEqual(hexToBytes("44 01"), Uint8Array.of(0x44, 0x01));
 * assert.throws(() => hexToBytes("4g"), SyntaxError);
 * ```
 */
export function hexToBytes(text: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  const bad = /[^0-9a-fA-F]/.exec(clean);
  if (bad) throw new SyntaxError(`"${bad[0]}" at position ${bad.index} is not a hex digit`);
  if (clean.length % 2 !== 0) throw new SyntaxError(`odd number of hex digits (${clean.length})`);
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * Bytes as lowercase hex, optionally separated.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bytesToHex } from "./hex.ts";
 * assert.equal(bytesToHex(Uint8Array.of(0xab, 0xcd)), "abcd");
 * assert.equal(bytesToHex(Uint8Array.of(0xab, 0xcd), " "), "ab cd");
 * ```
 */
export function bytesToHex(bytes: Uint8Array, separator = ""): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(separator);
}
