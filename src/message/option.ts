/**
 * Option numbers and the registry of known options (RFC 7252 §5.10,
 * RFC 7641, RFC 7959, RFC 7967, RFC 8613, RFC 8768, RFC 9175, RFC 9177),
 * and the properties encoded in an option number's bits (§5.4.6).
 * @module
 */

/** Option numbers. */
export const OptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  Oscore: 9,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  HopLimit: 16,
  Accept: 17,
  QBlock1: 19,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  QBlock2: 31,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  Echo: 252,
  NoResponse: 258,
  RequestTag: 292,
} as const;

/** How an option's value is encoded (RFC 7252 §3.2). */
export type OptionFormat = "empty" | "opaque" | "uint" | "string";

/** What the registry knows of an option. */
export interface OptionInfo {
  /** The option number. */
  readonly number: number;
  /** The registry's name, e.g. "Uri-Path". */
  readonly name: string;
  /** How the value is formatted (RFC 7252 §3.2). */
  readonly format: OptionFormat;
  /** Shortest allowed value, in bytes. */
  readonly minLength: number;
  /** Longest allowed value, in bytes. */
  readonly maxLength: number;
  /** Whether the option may occur more than once. */
  readonly repeatable: boolean;
}

const info = (
  number: number,
  name: string,
  format: OptionFormat,
  minLength: number,
  maxLength: number,
  repeatable = false,
): OptionInfo => ({ number, name, format, minLength, maxLength, repeatable });

// Formats, lengths and repeatability as the documents that define the options give them (the comment on
// each line); a server treats a value outside [minLength, maxLength], or a second occurrence of an option that
// is not repeatable, as an unrecognized option (RFC 7252 §5.4.3, §5.4.5). RFC 8132 (FETCH, PATCH, iPATCH)
// adds methods and no options.
const REGISTRY: ReadonlyMap<number, OptionInfo> = new Map([
  info(1, "If-Match", "opaque", 0, 8, true), // RFC 7252 §5.10, table 4
  info(3, "Uri-Host", "string", 1, 255), // RFC 7252 §5.10
  info(4, "ETag", "opaque", 1, 8, true), // RFC 7252 §5.10
  info(5, "If-None-Match", "empty", 0, 0), // RFC 7252 §5.10
  info(6, "Observe", "uint", 0, 3), // RFC 7641 §2
  info(7, "Uri-Port", "uint", 0, 2), // RFC 7252 §5.10
  info(8, "Location-Path", "string", 0, 255, true), // RFC 7252 §5.10
  info(9, "OSCORE", "opaque", 0, 255), // RFC 8613
  info(11, "Uri-Path", "string", 0, 255, true), // RFC 7252 §5.10
  info(12, "Content-Format", "uint", 0, 2), // RFC 7252 §5.10
  info(14, "Max-Age", "uint", 0, 4), // RFC 7252 §5.10
  info(15, "Uri-Query", "string", 0, 255, true), // RFC 7252 §5.10
  info(16, "Hop-Limit", "uint", 1, 1), // RFC 8768
  info(17, "Accept", "uint", 0, 2), // RFC 7252 §5.10
  info(19, "Q-Block1", "uint", 0, 3), // RFC 9177
  info(20, "Location-Query", "string", 0, 255, true), // RFC 7252 §5.10
  info(23, "Block2", "uint", 0, 3), // RFC 7959 §2.1
  info(27, "Block1", "uint", 0, 3), // RFC 7959 §2.1
  info(28, "Size2", "uint", 0, 4), // RFC 7959 §4
  info(31, "Q-Block2", "uint", 0, 3, true), // RFC 9177: repeated to ask for several missing blocks
  info(35, "Proxy-Uri", "string", 1, 1034), // RFC 7252 §5.10
  info(39, "Proxy-Scheme", "string", 1, 255), // RFC 7252 §5.10
  info(60, "Size1", "uint", 0, 4), // RFC 7252 §5.10, RFC 7959 §4
  info(252, "Echo", "opaque", 1, 40), // RFC 9175
  info(258, "No-Response", "uint", 0, 1), // RFC 7967
  info(292, "Request-Tag", "opaque", 0, 8, true), // RFC 9175
].map((entry) => [entry.number, entry]));
/** REGISTRY as an array by number (all are below 300): an indexed load per option instead of a hash lookup. */
const BY_NUMBER: (OptionInfo | undefined)[] = Array.from(
  { length: Math.max(...REGISTRY.keys()) + 1 },
  (_, number) => REGISTRY.get(number),
);

/**
 * The registry entry of an option number, or undefined if unknown here.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionInfo } from "../mod.ts";
 * assert.equal(optionInfo(11)?.name, "Uri-Path");
 * assert.equal(optionInfo(11)?.repeatable, true);
 * ```
 */
export function optionInfo(number: number): OptionInfo | undefined {
  return number < BY_NUMBER.length ? BY_NUMBER[number] : undefined;
}

/**
 * Name of an option number, or "Unknown-N".
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionName } from "../mod.ts";
 * assert.equal(optionName(12), "Content-Format");
 * ```
 */
export function optionName(number: number): string {
  return REGISTRY.get(number)?.name ?? `Unknown-${number}`;
}

/** Every known option. */
export function knownOptions(): OptionInfo[] {
  return [...REGISTRY.values()];
}

/** RFC 7252 §5.4.1: a critical option (odd number) must be understood or the message rejected. */
export function isCritical(number: number): boolean {
  return (number & 1) === 1;
}

/** RFC 7252 §5.4.2: an unsafe option must be understood by a proxy to forward the message. */
export function isUnsafe(number: number): boolean {
  return (number & 2) === 2;
}

/** RFC 7252 §5.4.6: a NoCacheKey option does not take part in the cache key. */
export function isNoCacheKey(number: number): boolean {
  return (number & 0x1e) === 0x1c;
}
