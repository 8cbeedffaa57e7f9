/**
 * A representation shown on a terminal the way its Content-Format reads best: JSON indented, CBOR in
 * diagnostic notation (RFC 8949 §8), link-format one link per line, text as it is, anything else as a
 * hex dump. Everything a peer sent is escaped (printable.ts), so no payload can drive the terminal. CLI
 * only: cbor2 must stay out of the library's import graph (src/mod.ts).
 * @module
 */
import { diagnose } from "cbor2/diagnostic";
import { ContentFormat } from "../message/content_format.ts";
import { isUtf8 } from "../message/option_value.ts";
import { bytesToHex } from "../tools/hex.ts";
import { printable } from "../tools/printable.ts";

/** Formats whose syntax is JSON (RFC 8259): application/json and its +json relatives. */
const JSON_FORMATS: readonly number[] = [
  ContentFormat.Json,
  ContentFormat.JsonPatch,
  ContentFormat.MergePatch,
  ContentFormat.SenmlJson,
];
/** Text formats with no syntax of their own to lay out. */
const TEXT_FORMATS: readonly number[] = [
  ContentFormat.TextPlain,
  ContentFormat.LinkFormat,
  ContentFormat.Xml,
];
/** Formats whose syntax is CBOR (RFC 8949). */
const CBOR_FORMATS: readonly number[] = [ContentFormat.Cbor, ContentFormat.Cwt, ContentFormat.SenmlCbor];
/** A binary payload longer than this is summed up after its first HEX_DUMP_LIMIT bytes. */
const HEX_DUMP_LIMIT = 256;
const HEX_DUMP_ROW = 16;

/**
 * `payload` as text for a terminal, by its Content-Format; no trailing line feed. Text that does not parse
 * as its format claims (invalid JSON or CBOR) is shown as text or a hex dump, with no error.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prettyPayload } from "./pretty_payload.ts";
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assert.equal(prettyPayload(bytes('{"t":22.5}'), 50), '{\n  "t": 22.5\n}');
 * assert.equal(prettyPayload(Uint8Array.of(0xa1, 0x61, 0x74, 0x16), 60), '{"t": 22}');
 * assert.equal(prettyPayload(bytes('</a>;rt="x",</b>'), 40), '</a>;rt="x"\n</b>');
 * assert.equal(prettyPayload(bytes("22.5\x1b[2J"), 0), "22.5\\u{1b}[2J");
 * assert.equal(prettyPayload(Uint8Array.of(0xff, 0x00), 42), "0000  ff 00                                            |..|");
 * ```
 */
export function prettyPayload(payload: Uint8Array, contentFormat?: number): string {
  const format = contentFormat ?? -1;
  if (CBOR_FORMATS.includes(format)) {
    try {
      return printable(diagnose(payload), { keepLines: true });
    } catch {
      // Not CBOR after all: show the bytes that came.
      return hexDump(payload);
    }
  }
  // A format that says "text" is shown as text, its bad UTF-8 as U+FFFD; bytes of no stated format only
  // when they are UTF-8.
  const textual = TEXT_FORMATS.includes(format) || JSON_FORMATS.includes(format);
  if (format === ContentFormat.OctetStream || (!textual && !isUtf8(payload))) return hexDump(payload);
  const text = new TextDecoder().decode(payload);
  if (JSON_FORMATS.includes(format)) {
    try {
      return printable(JSON.stringify(JSON.parse(text), null, 2), { keepLines: true });
    } catch {
      // Not JSON: fall through and show it as text.
    }
  }
  if (format === ContentFormat.LinkFormat) return splitLinks(text).map((link) => printable(link)).join("\n");
  return printable(text, { keepLines: true });
}

/** RFC 6690 §2: links are separated by commas outside quoted strings and the `<…>` of a target. */
function splitLinks(text: string): string[] {
  const links: string[] = [];
  let start = 0;
  let quoted = false;
  let inTarget = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === "\\") i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === "<") inTarget = true;
    else if (char === ">") inTarget = false;
    else if (char === "," && !inTarget) {
      links.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  links.push(text.slice(start).trim());
  return links.filter((link) => link !== "");
}

/** Offset, 16 bytes in hex and as ASCII per row, as `xxd`/`hexdump -C` show them; long payloads cut short. */
function hexDump(payload: Uint8Array): string {
  const rows: string[] = [];
  const shown = payload.subarray(0, HEX_DUMP_LIMIT);
  for (let offset = 0; offset < shown.length; offset += HEX_DUMP_ROW) {
    const row = shown.subarray(offset, offset + HEX_DUMP_ROW);
    const hex = bytesToHex(row).replace(/(..)(?!$)/g, "$1 ");
    const ascii = Array.from(row, (byte) => byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".")
      .join("");
    rows.push(`${offset.toString(16).padStart(4, "0")}  ${hex.padEnd(HEX_DUMP_ROW * 3 - 1)}  |${ascii}|`);
  }
  if (payload.length > HEX_DUMP_LIMIT) {
    rows.push(`… ${payload.length} bytes in all; -o FILE saves them, or pipe stdout to a file`);
  }
  return rows.join("\n");
}
