/** One line per datagram for --verbose: direction, type, code, MID, token, options, payload, time. */
import { codeName, codeString } from "../message/code.ts";
import { optionName } from "../message/option.ts";
import { isUtf8 } from "../message/option_value.ts";
import { typeName } from "../message/type.ts";
import type { TraceEvent } from "../endpoint/trace.ts";
import { addressKey } from "../transport/transport.ts";
import { describeOptionValue } from "./describe_option.ts";
import { bytesToHex } from "./hex.ts";
import { printable } from "./printable.ts";

const PREVIEW = 40;

/**
 * A trace event as one readable line, timed from `start` (ms).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, type TraceEvent } from "../mod.ts";
 * import { hexToBytes } from "./hex.ts";
 * import { formatTraceLine } from "./trace_line.ts";
 * const bytes = hexToBytes("44011a2b9f3c1a22bb74656d7065726174757265"); // CON GET /temperature
 * const event: TraceEvent = {
 *   direction: "out",
 *   at: 1000,
 *   peer: { hostname: "127.0.0.1", port: 5683 },
 *   local: { hostname: "0.0.0.0", port: 40000 },
 *   bytes,
 *   message: decode(bytes),
 * };
 * assert.equal(
 *   formatTraceLine(event, 1000),
 *   '→ 127.0.0.1:5683  CON 0.01 GET  MID 0x1a2b  token 9f3c1a22  Uri-Path: "temperature"  +0.0 ms',
 * );
 * ```
 */
export function formatTraceLine(event: TraceEvent, start: number): string {
  const arrow = event.direction === "out" ? "→" : "←";
  const time = `+${(event.at - start).toFixed(1)} ms`;
  const peer = addressKey(event.peer);
  if (event.message === undefined) {
    return `${arrow} ${peer}  malformed (${event.bytes.length} bytes): ${event.error}  ${time}`;
  }
  const m = event.message;
  const parts = [
    `${arrow} ${peer}`,
    `${typeName(m.type)} ${m.code === 0 ? "Empty" : `${codeString(m.code)} ${codeName(m.code)}`}`,
    `MID 0x${m.messageId.toString(16).padStart(4, "0")}`,
  ];
  if (m.token.length > 0) parts.push(`token ${bytesToHex(m.token)}`);
  for (const option of m.options) {
    parts.push(`${optionName(option.number)}: ${describeOptionValue(option.number, option.value)}`);
  }
  if (m.payload.length > 0) {
    const text = isUtf8(m.payload) ? new TextDecoder().decode(m.payload.subarray(0, PREVIEW)) : undefined;
    parts.push(
      text === undefined
        ? `payload ${m.payload.length} bytes`
        : `payload ${printable(JSON.stringify(text))}${m.payload.length > PREVIEW ? "…" : ""}`,
    );
  }
  if (event.retransmission) parts.push(`(retransmission ${event.retransmission})`);
  if (event.duplicate) parts.push("(duplicate)");
  if (event.resent) parts.push("(cached answer resent)");
  parts.push(time);
  return parts.join("  ");
}

/** The width trace rows and observe's lines keep to unless told --wide: a terminal of 100 columns. */
export const TRACE_COLUMNS = 100;

/**
 * The columns `line` takes on a terminal: its code points, as every character trace lines hold takes one
 * (box drawing, arrows, and peer text after printable() has escaped the controls).
 */
export function columns(line: string): number {
  return Array.from(line).length;
}

/**
 * `line` cut to `width` columns (as `columns` counts them), its end replaced by "…" when it was longer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitColumns } from "./trace_line.ts";
 * assert.equal(fitColumns("MID 0x1a2b  token 9f3c", 12), "MID 0x1a2b …");
 * assert.equal(fitColumns("short", 12), "short");
 * ```
 */
export function fitColumns(line: string, width: number): string {
  const characters = Array.from(line);
  return characters.length <= width ? line : `${characters.slice(0, width - 1).join("")}…`;
}
