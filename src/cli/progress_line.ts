/**
 * A block-wise transfer's progress (RFC 7959) as one line on stderr, rewritten in place per block and
 * erased when the transfer ends — shown only when stderr is a terminal, so logs and pipes get none of it.
 * @module
 */
import type { RequestOptions } from "../client/client.ts";
import { printable } from "../tools/printable.ts";
import type { OutputStream } from "./terminal_output.ts";

/** What RequestOptions.onProgress reports. */
export type Progress = Parameters<NonNullable<RequestOptions["onProgress"]>>[0];

/** Carriage return, then ANSI "erase to end of line" (ECMA-48 EL): the line is redrawn from its start. */
const REDRAW = "\r\x1b[K";
const GROUPED = new Intl.NumberFormat("en-US");

/**
 * The text of a progress line: method, path, block number, bytes so far and, when known, the total —
 * "~" marks the server's Size2, an estimate (RFC 7959 §4); an upload's Size1 is the client's own count.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressLine } from "./progress_line.ts";
 * assert.equal(
 *   progressLine("GET", "/large", { direction: "download", block: 36, bytes: 37888, total: 2000000 }),
 *   "  GET /large  block 37  37,888 B  (of ~2,000,000)",
 * );
 * assert.equal(
 *   progressLine("PUT", "/blob", { direction: "upload", block: 1, bytes: 2048, total: 20000 }),
 *   "  PUT /blob  block 2 sent  2,048 B  (of 20,000)",
 * );
 * ```
 */
export function progressLine(method: string, path: string, progress: Progress): string {
  const { direction, block, bytes, total } = progress;
  // Counted from 1, as a person counts blocks: NUM is 0-based.
  const count = `block ${block + 1}${direction === "upload" ? " sent" : ""}`;
  const of = total === undefined
    ? ""
    : `  (of ${direction === "download" ? "~" : ""}${GROUPED.format(total)})`;
  return `  ${method} ${printable(path)}  ${count}  ${GROUPED.format(bytes)} B${of}`;
}

/** A progress line on a stream that writes; nothing is written unless the stream is a terminal. */
export class ProgressLine {
  readonly #prefix: [string, string];
  readonly #stream: OutputStream & { writeSync(bytes: Uint8Array): number };
  #shown = false;

  /** For a request of `method` to `path`, drawn on `stream` (stderr by default). */
  constructor(
    method: string,
    path: string,
    stream: OutputStream & { writeSync(bytes: Uint8Array): number } = Deno.stderr,
  ) {
    this.#prefix = [method, path];
    this.#stream = stream;
  }

  /** For RequestOptions.onProgress: redraws the line; undefined when the stream is not a terminal. */
  get onProgress(): RequestOptions["onProgress"] {
    if (!this.#stream.isTerminal()) return undefined;
    return (progress) => {
      this.#write(REDRAW + progressLine(...this.#prefix, progress));
      this.#shown = true;
    };
  }

  /** Erases the line, so what the command prints next starts on a clean one. */
  clear(): void {
    if (this.#shown) this.#write(REDRAW);
    this.#shown = false;
  }

  #write(text: string): void {
    const bytes = new TextEncoder().encode(text);
    for (let written = 0; written < bytes.length;) written += this.#stream.writeSync(bytes.subarray(written));
  }
}
