/**
 * How the commands print what a server sent: on a terminal, readable and with
 * control characters escaped (a payload must not drive the terminal); to a
 * file or a pipe, exactly as it came.
 * @module
 */
import type { CoapResponse } from "../client/response.ts";
import { contentFormatName } from "../message/content_format.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeUint } from "../message/option_value.ts";
import { printable } from "../tools/printable.ts";
import { prettyPayload } from "./pretty_payload.ts";

/** What the choice depends on: Deno.stdout and Deno.stderr are such streams. */
export interface OutputStream {
  isTerminal(): boolean;
}

/**
 * `text` as a command prints it on `stream` (stdout by default): escaped when that is a terminal.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forTerminal } from "./terminal_output.ts";
 * assert.equal(forTerminal("22.5\x1b[2J", { isTerminal: () => true }), "22.5\\u{1b}[2J");
 * assert.equal(forTerminal("22.5\x1b[2J", { isTerminal: () => false }), "22.5\x1b[2J");
 * ```
 */
export function forTerminal(text: string, stream: OutputStream = Deno.stdout): string {
  return stream.isTerminal() ? printable(text, { keepLines: true }) : text;
}

/** What a response puts on each stream: stdout's bytes, stderr's text. */
export interface ResponseOutput {
  stdout: Uint8Array;
  stderr: string;
}

/**
 * How a command shows a response, by where stdout goes. On a terminal: the code line (with the
 * Content-Format's name) and the payload made readable (pretty_payload.ts), both on stdout. To a file or
 * a pipe: stdout carries the 2.xx payload's bytes and nothing else, as coap-client and aiocoap-client
 * do, so `get URI > file` saves the representation exactly; the code line, and a 4.xx/5.xx diagnostic
 * payload (RFC 7252 §5.5.2, not a representation), go to stderr. `payload: false` leaves the payload out
 * (-o FILE has saved it).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapResponse, Code, decode, encodeUint, OptionNumber } from "../mod.ts";
 * import { responseOutput } from "./terminal_output.ts";
 * const response = new CoapResponse({
 *   ...decode(Uint8Array.of(0x60, Code.Content, 0, 0)),
 *   options: [{ number: OptionNumber.ContentFormat, value: encodeUint(50) }],
 *   payload: new TextEncoder().encode('{"t":22.5}'),
 * }, { hostname: "127.0.0.1", port: 5683 });
 * const piped = responseOutput(response, { stdout: { isTerminal: () => false } });
 * assert.equal(new TextDecoder().decode(piped.stdout), '{"t":22.5}');
 * assert.equal(piped.stderr, "2.05 Content (application/json)\n");
 * const shown = responseOutput(response, { stdout: { isTerminal: () => true } });
 * assert.equal(new TextDecoder().decode(shown.stdout), '2.05 Content (application/json)\n{\n  "t": 22.5\n}\n');
 * ```
 */
export function responseOutput(
  response: CoapResponse,
  { stdout = Deno.stdout, payload = true }: { stdout?: OutputStream; payload?: boolean } = {},
): ResponseOutput {
  const format = response.option(OptionNumber.ContentFormat);
  const contentFormat = format === undefined ? undefined : decodeUint(format);
  const codeLine = `${response.codeString} ${response.codeName}${
    contentFormat === undefined
      ? ""
      : ` (${contentFormatName(contentFormat) ?? `Content-Format ${contentFormat}`})`
  }\n`;
  const hasPayload = payload && response.payload.length > 0;
  const diagnostic = hasPayload && !response.isSuccess ? `${printable(response.text())}\n` : "";
  if (stdout.isTerminal()) {
    const shown = hasPayload && response.isSuccess
      ? `${prettyPayload(response.payload, contentFormat)}\n`
      : diagnostic;
    return { stdout: new TextEncoder().encode(codeLine + shown), stderr: "" };
  }
  return {
    stdout: hasPayload && response.isSuccess ? response.payload : new Uint8Array(0),
    stderr: codeLine + diagnostic,
  };
}

/** Writes responseOutput's parts to stdout and stderr. */
export function writeResponse(response: CoapResponse, options: { payload?: boolean } = {}): void {
  const { stdout, stderr } = responseOutput(response, options);
  writeAll(Deno.stdout, stdout);
  writeAll(Deno.stderr, new TextEncoder().encode(stderr));
}

/** writeSync may write less than asked. */
function writeAll(stream: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += stream.writeSync(bytes.subarray(written));
}
