/**
 * What `serve` prints while it runs — request lines, DTLS sessions, the sites' own notes, errors — as
 * text for a terminal or as JSON lines for a log collector, filtered by level.
 * @module
 */
import type { RequestLogEntry } from "../server/server.ts";
import { addressKey } from "../transport/transport.ts";
import { printable } from "../tools/printable.ts";

/** Levels from the most to the least talkative; `quiet` prints nothing. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "quiet"] as const;
/** How much a ServerLog prints: a message is printed when its level is at or after this one. */
export type LogLevel = typeof LOG_LEVELS[number];
/** Levels a message can have. */
export type MessageLevel = Exclude<LogLevel, "quiet">;
/** `text`: one line for a person; `json`: one JSON object per line. */
export const LOG_FORMATS = ["text", "json"] as const;
/** A ServerLog's output format. */
export type LogFormat = typeof LOG_FORMATS[number];

/** Fields of a JSON line beyond time, level and msg. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Options of a ServerLog. */
export interface ServerLogOptions {
  /** Default "info". */
  level?: LogLevel;
  /** Default "text". */
  format?: LogFormat;
  /** Where a line goes (default: stdout for debug and info, stderr for warn and error). */
  write?: (line: string, level: MessageLevel) => void;
  /** The time a line carries (default: now). */
  now?: () => Date;
  /**
   * The worker (1..N of `serve --workers N`) whose lines these are: a `worker` field on JSON lines and
   * "[worker N] " before text lines, so a reader sees which worker, and its state, served a peer.
   */
  worker?: number;
}

/**
 * One request as `serve` logs it in text, at `time` (UTC, to the millisecond). Escaped with printable, so
 * a peer's text cannot add lines to the log or reorder this one.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestLogLine } from "./server_log.ts";
 * const entry = {
 *   peer: { hostname: "127.0.0.1", port: 40000 },
 *   type: "CON",
 *   method: "PUT",
 *   path: "/led",
 *   code: "2.04",
 *   codeName: "Changed",
 *   payloadBytes: 0,
 *   elapsed: 0.4,
 *   separate: false,
 * } as const;
 * assert.equal(
 *   requestLogLine(entry, new Date("2024-05-01T12:00:00.123Z")),
 *   "12:00:00.123 127.0.0.1:40000 CON PUT /led → 2.04 Changed 0 B 0.4 ms",
 * );
 * ```
 */
export function requestLogLine(entry: RequestLogEntry, time: Date = new Date()): string {
  return printable(
    `${time.toISOString().slice(11, 23)} ${
      addressKey(entry.peer)
    } ${entry.type} ${entry.method} ${entry.path} → ${entry.code} ${entry.codeName}` +
      ` ${entry.payloadBytes} B ${entry.elapsed.toFixed(1)} ms${entry.separate ? " (separate)" : ""}`,
  );
}

/**
 * The log of `serve`: every line goes through it, so one --log-level and one --log-format apply to all.
 * Text lines are made printable (a peer's bytes cannot forge a line); JSON lines need no such care, since
 * JSON.stringify escapes control characters.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerLog } from "./server_log.ts";
 * const lines: string[] = [];
 * const log = new ServerLog({
 *   level: "warn",
 *   format: "json",
 *   write: (line) => lines.push(line),
 *   now: () => new Date("2024-05-01T12:00:00.123Z"),
 * });
 * log.info("not printed: below warn");
 * log.warn("DTLS 127.0.0.1:40000: refused", { peer: "127.0.0.1:40000" });
 * assert.deepEqual(lines.map((line) => JSON.parse(line)), [
 *   { time: "2024-05-01T12:00:00.123Z", level: "warn", msg: "DTLS 127.0.0.1:40000: refused", peer: "127.0.0.1:40000" },
 * ]);
 * ```
 */
export class ServerLog {
  readonly level: LogLevel;
  readonly format: LogFormat;
  readonly #write: (line: string, level: MessageLevel) => void;
  readonly #now: () => Date;
  /** Added to every JSON line: `worker` for a worker's log, else nothing. */
  readonly #workerField: LogFields;
  /** Put before every text line: "[worker N] " for a worker's log, else nothing. */
  readonly #tag: string;

  constructor(options: ServerLogOptions = {}) {
    this.level = options.level ?? "info";
    this.format = options.format ?? "text";
    this.#write = options.write ??
      ((line, level) => level === "warn" || level === "error" ? console.error(line) : console.log(line));
    this.#now = options.now ?? (() => new Date());
    this.#workerField = options.worker === undefined ? {} : { worker: options.worker };
    this.#tag = options.worker === undefined ? "" : `[worker ${options.worker}] `;
  }

  /** Whether a message at `level` would be printed. */
  enabled(level: MessageLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(this.level);
  }

  /**
   * A handled request: info, but warn for 5.03 Service Unavailable, which is what the server answers when
   * one of its limits is reached (limits.ts).
   */
  request(entry: RequestLogEntry): void {
    const level = entry.code === "5.03" ? "warn" : "info";
    if (!this.enabled(level)) return;
    const time = this.#now();
    if (this.format === "text") return this.#write(this.#tag + requestLogLine(entry, time), level);
    this.#write(
      JSON.stringify({
        time: time.toISOString(),
        level,
        ...this.#workerField,
        msg: "request",
        peer: addressKey(entry.peer),
        type: entry.type,
        method: entry.method,
        path: entry.path,
        code: entry.code,
        code_name: entry.codeName,
        elapsed_ms: Number(entry.elapsed.toFixed(3)),
        bytes: entry.payloadBytes,
        ...(entry.separate ? { separate: true } : {}),
        ...(entry.suppressed ? { suppressed: true } : {}),
      }),
      level,
    );
  }

  /**
   * That the server is up, and where: printed at every level, quiet too (an info line in JSON), since it is
   * the line scripts and tests wait for.
   */
  started(msg: string, fields?: LogFields): void {
    this.#print("info", msg, fields);
  }

  /** Detail for debugging. */
  debug(msg: string, fields?: LogFields): void {
    this.#line("debug", msg, fields);
  }

  /** What an operator wants to see: the server started, a session came up. */
  info(msg: string, fields?: LogFields): void {
    this.#line("info", msg, fields);
  }

  /** Something refused or dropped: a failed DTLS handshake, a limit reached. */
  warn(msg: string, fields?: LogFields): void {
    this.#line("warn", msg, fields);
  }

  /** A failure of the server itself: a handler threw, an answer could not be sent. */
  error(msg: string, fields?: LogFields): void {
    this.#line("error", msg, fields);
  }

  #line(level: MessageLevel, msg: string, fields?: LogFields): void {
    if (this.enabled(level)) this.#print(level, msg, fields);
  }

  #print(level: MessageLevel, msg: string, fields: LogFields = {}): void {
    if (this.format === "json") {
      this.#write(
        JSON.stringify({ time: this.#now().toISOString(), level, ...this.#workerField, msg, ...fields }),
        level,
      );
    } else {
      // Text keeps today's look: the message alone, warn and error marked as such.
      const prefix = level === "warn" ? "warning: " : level === "error" ? "error: " : "";
      this.#write(this.#tag + printable(prefix + msg), level);
    }
  }
}
