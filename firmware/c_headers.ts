/**
 * The C headers firmware/build.ts generates, so the firmware takes its
 * numbers from the same TypeScript the Deno side uses instead of keeping
 * copies in step: layout.h from core-as/layout.ts (the WASM boundary), and
 * coap_numbers.h from the CoAP registry in src/message/ and the RFC 7252
 * §4.8 defaults in src/endpoint/params.ts.
 * @module
 */
import * as layout from "../core-as/layout.ts";
import { Code } from "../src/message/code.ts";
import { ContentFormat } from "../src/message/content_format.ts";
import { OptionNumber } from "../src/message/option.ts";
import { Type } from "../src/message/type.ts";
import { COAP_PORT } from "../src/client/uri.ts";
import {
  DEFAULT_PARAMETERS,
  exchangeLifetime,
  maxTransmitSpan,
  maxTransmitWait,
  nonLifetime,
} from "../src/endpoint/params.ts";

/** Names the RFCs write as one word ("ETag", "iPATCH"), which the camel-case split would cut. */
const ONE_WORD: Record<string, string> = { ETag: "ETAG", IPatch: "IPATCH" };

/**
 * A TypeScript constant name in C style: "ContentFormat" → "CONTENT_FORMAT", "QBlock1" → "Q_BLOCK1".
 * @example cName("TextPlain") // "TEXT_PLAIN"
 */
export function cName(name: string): string {
  return ONE_WORD[name] ?? name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toUpperCase();
}

function header(guard: string, source: string, lines: string[]): string {
  return `/* Generated from ${source} by firmware/build.ts; do not edit. */\n` +
    `#ifndef ${guard}\n#define ${guard}\n${lines.join("\n")}\n#endif\n`;
}

function defines(prefix: string, table: Record<string, number>): string[] {
  return Object.entries(table).map(([name, value]) => `#define ${prefix}${cName(name)} ${value}`);
}

/** layout.ts's numbers as C #defines: one source for both sides of the boundary. */
export function layoutHeader(): string {
  const lines = Object.entries(layout).map(([name, value]) => `#define ${name} ${value}u`);
  return header("LAYOUT_H", "core-as/layout.ts", lines);
}

/**
 * The CoAP numbers the firmware uses, named COAP_CODE_*, COAP_OPTION_*,
 * COAP_FORMAT_*, COAP_TYPE_* and COAP_<PARAMETER>: codes, option numbers,
 * Content-Formats and message types from src/message/, the default port, and
 * the §4.8 transmission parameters with the times derived from them (§4.8.2).
 * @example coapNumbersHeader().includes("#define COAP_CODE_CONTENT 69") // true
 */
export function coapNumbersHeader(): string {
  const p = DEFAULT_PARAMETERS;
  const parameters = {
    ACK_TIMEOUT_MS: p.ackTimeout,
    // The core takes the factor in thousandths (retransmit.ts schedule()).
    ACK_RANDOM_FACTOR_MILLI: Math.round(p.ackRandomFactor * 1000),
    MAX_RETRANSMIT: p.maxRetransmit,
    NSTART: p.nstart,
    MAX_LATENCY_MS: p.maxLatency,
    MAX_TRANSMIT_SPAN_MS: maxTransmitSpan(p),
    MAX_TRANSMIT_WAIT_MS: maxTransmitWait(p),
    EXCHANGE_LIFETIME_MS: exchangeLifetime(p),
    NON_LIFETIME_MS: nonLifetime(p),
  };
  return header(
    "COAP_NUMBERS_H",
    "src/message/{code,option,content_format,type}.ts, src/client/uri.ts, src/endpoint/params.ts",
    [
      "/* Codes (class << 5 | detail), src/message/code.ts */",
      ...defines("COAP_CODE_", Code),
      "/* Option numbers, src/message/option.ts */",
      ...defines("COAP_OPTION_", OptionNumber),
      "/* Content-Formats, src/message/content_format.ts */",
      ...defines("COAP_FORMAT_", ContentFormat),
      "/* Message types, src/message/type.ts */",
      ...defines("COAP_TYPE_", Type),
      "/* RFC 7252 §6.1 default port, src/client/uri.ts */",
      `#define COAP_PORT ${COAP_PORT}u`,
      "/* RFC 7252 §4.8 defaults and §4.8.2 derived times, src/endpoint/params.ts */",
      ...Object.entries(parameters).map(([name, value]) => `#define COAP_${name} ${value}u`),
    ],
  );
}
