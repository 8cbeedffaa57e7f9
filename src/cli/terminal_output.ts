/**
 * How the commands print what a server sent: on a terminal, with control
 * characters escaped (a payload must not drive the terminal); to a file or a
 * pipe, exactly as it came.
 * @module
 */
import { printable } from "../tools/printable.ts";

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

/**
 * Writes a payload and a line feed to stdout: on a terminal its text with controls escaped, otherwise its
 * bytes as they came (binary, or UTF-8 that is not valid, included).
 */
export function writePayload(payload: Uint8Array): void {
  if (Deno.stdout.isTerminal()) {
    console.log(printable(new TextDecoder().decode(payload), { keepLines: true }));
    return;
  }
  const bytes = new Uint8Array(payload.length + 1);
  bytes.set(payload);
  bytes[payload.length] = 0x0a;
  for (let written = 0; written < bytes.length;) written += Deno.stdout.writeSync(bytes.subarray(written));
}
