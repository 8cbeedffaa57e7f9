/**
 * `serve`: the demo or plugtest site, a user's module (--site), or a directory (--static), with one log
 * (server_log.ts) for everything it prints.
 * @module
 */
import { demoSite } from "../demo/demo_site.ts";
import { uriPath } from "../message/message.ts";
import type { Site } from "../server/site.ts";
import { CoapServer } from "../server/server.ts";
import { limitLines } from "../server/limits.ts";
import { addressKey } from "../transport/transport.ts";
import { parseFlags } from "./parse_flags.ts";
import { untilSignal } from "./until_signal.ts";
import { UsageError } from "./usage_error.ts";
import { UDP_USAGE, udpFlag } from "./udp_flag.ts";
import { portFlag } from "./flag_values.ts";
import { SERVER_DTLS_FLAGS, SERVER_DTLS_USAGE, serverDtlsOptions, sessionLine } from "./dtls_flags.ts";
import { TRACE_FLAGS, TRACE_USAGE, traceOutputs } from "./trace_flags.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, ServerLog } from "./server_log.ts";

/** The lab's Observe pattern: a new reading every 2 s. */
const DRIFT_EVERY_MS = 2000;
/** More workers than this outnumber any machine's cores: each is a thread with its own heap. */
const MAX_WORKERS = 256;

/** Usage text of `serve`. */
export const SERVE_USAGE = `serve [--host H] [--port P] [flags]
  Run a CoAP server on [::]:5683 (IPv4 and IPv6): the demo site (/temperature, /slow, /led,
  /config, /large, /upload, /readings) unless one of these is given:
    --plugtest    the ETSI CoAP#4 plugtest server (/test, /separate, /validate, /link1 …)
    --site FILE.ts    the Site FILE exports (default export or "site"; a function may return it)
    --static DIR [--writable]    DIR's files: GET with ETag and Block2, at most 1 MiB a file;
        --writable: PUT (at most 2 MiB, written atomically) and DELETE, inside DIR only
    --log-level debug|info|warn|error|quiet (info)  --quiet (= error)  --log-format text|json
    ${UDP_USAGE}
    --workers N (1): N workers, each its own server on the port (SO_REUSEPORT; batched UDP only);
        a peer's datagrams all reach one worker, but each worker has its own site: state such as
        /led, /config and /readings is per worker; not with coaps, --trace, --trace-json or --pcap
    ${SERVER_DTLS_USAGE}
    ${TRACE_USAGE}
  examples:
    serve --port 5683
    serve --static ./www --writable --log-format json
    serve --workers 2
    serve --dtls-port 5684 --psk secret`;

/** serve's flags, for parseFlags. */
const SERVE_FLAGS = {
  host: { type: "string", default: "::" },
  port: { type: "string", default: "5683" },
  workers: { type: "string", default: "1" },
  quiet: { type: "boolean" },
  plugtest: { type: "boolean" },
  site: { type: "string" },
  static: { type: "string" },
  writable: { type: "boolean" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  udp: { type: "string" },
  ...SERVER_DTLS_FLAGS,
  ...TRACE_FLAGS,
} as const;

/** The values of serve's flags. */
export type ServeFlags = ReturnType<typeof parseServeFlags>;

/** serve's arguments as flag values: a stray positional argument is a usage error. */
export function parseServeFlags(args: string[]) {
  const { values, positionals } = parseFlags(args, SERVE_FLAGS);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${SERVE_USAGE}`);
  }
  return values;
}

/** Runs `serve` until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(args: string[]): Promise<number> {
  const values = parseServeFlags(args);
  const workers = workersFlag(values.workers);
  const log = serveLog(values);
  if (workers > 1) {
    // Loaded only here: a one-worker serve carries no worker code.
    const { serveWorkers } = await import("./serve_workers.ts");
    return await serveWorkers(args, values, { workers, log });
  }
  const open = await openServe(values, log);
  const { server } = open;
  // Listening for SIGINT and SIGTERM before saying so: a service manager may stop serve the moment it is up.
  const stopped = untilSignal();
  const url = `coap://${addressKey(server.address)}`;
  log.started(listeningLine(url, open.describe), { url });
  if (server.secure) {
    const secureUrl = `coaps://${addressKey(server.secure.address)}`;
    log.started(`and on ${secureUrl}  (DTLS 1.2, ${open.credentials})`, { url: secureUrl });
  }
  printLimits(log, values, serverLimitLines(server));
  // Until SIGINT or SIGTERM; then everything that keeps the process alive is released, so it exits.
  await stopped;
  open.close();
  return 0;
}

/** The ServerLog the flags ask for; `worker` tags the lines of one of serve --workers' workers. */
export function serveLog(values: ServeFlags, worker?: number): ServerLog {
  return new ServerLog({
    level: levelFlag(values["log-level"], values.quiet),
    format: formatFlag(values),
    worker,
  });
}

/** The line scripts and tests wait for: where serve listens and what it serves. */
export function listeningLine(url: string, describe: string, workers?: number): string {
  return `CoAP server listening on ${url}  (${describe}, /.well-known/core${
    workers ? `; ${workers} workers` : ""
  })`;
}

/**
 * Every bound on the server's state, so an operator sees what a flood will run into: with --verbose, or
 * at --log-level debug.
 */
export function printLimits(log: ServerLog, values: ServeFlags, lines: string[], heading = "limits:"): void {
  const limitsAt = (line: string) => values.verbose ? log.info(line) : log.debug(line);
  limitsAt(heading);
  for (const line of lines) limitsAt(`  ${line}`);
}

/** The server's limits (and its DTLS transport's), as printLimits shows them. */
export function serverLimitLines(server: CoapServer): string[] {
  const lines = limitLines(server.limits, server.endpoint.sizes, server.endpoint.parameters);
  if (server.dtls) {
    for (const [name, value] of Object.entries(server.dtls.limits)) lines.push(`dtls.${name}  ${value}`);
  }
  return lines;
}

/** One server of `serve` and what it needs: its site, its trace outputs; close() releases them all. */
export interface OpenServe {
  readonly server: CoapServer;
  /** How the listening line names the site. */
  readonly describe: string;
  /** How the coaps:// listening line names the DTLS credentials: "PSK", "certificate" or both. */
  readonly credentials: string;
  close(): void;
}

/**
 * Builds the site the flags choose and serves it, logging to `log`; with `reusePort`, on a SO_REUSEPORT
 * socket that other servers share (serve --workers). A socket that cannot be bound is a UsageError.
 */
export async function openServe(
  values: ServeFlags,
  log: ServerLog,
  { reusePort = false }: { reusePort?: boolean } = {},
): Promise<OpenServe> {
  const traces = await traceOutputs(values, "server");
  // Inside the DTLS sessions: the diagram and --verbose lines; --pcap and --trace-json are the coap:// port's.
  const secureTraces = await traceOutputs({ trace: values.trace, verbose: values.verbose }, "server");
  const dtls = serverDtlsOptions(values);
  let served: Served;
  try {
    served = await chooseSite(values, log);
  } catch (error) {
    traces.close();
    secureTraces.close();
    throw error;
  }
  let server: CoapServer;
  try {
    server = new CoapServer(served.site, {
      hostname: values.host,
      port: portFlag("port", values.port),
      udp: udpFlag(values.udp),
      reusePort,
      // Request lines are info, or warn for 5.03 (server_log.ts): below that level none would print.
      onLog: log.enabled("warn") ? (entry) => log.request(entry) : undefined,
      onError: (error, request) =>
        log.error(
          // The path as the request log shows it: percent-encoded, so a peer's bytes cannot forge the line.
          `${request ? `handler for ${request.method} ${uriPath(request.message)}` : "CoAP server"} failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { error: error instanceof Error ? error.stack : String(error) },
        ),
      onTrace: traces.onTrace,
      dtls: dtls && {
        ...dtls,
        onTrace: secureTraces.onTrace,
        onSession: (event) => {
          const fields = { peer: addressKey(event.address), session: event.kind };
          if (event.kind === "established" || event.kind === "closed") log.info(sessionLine(event), fields);
          else log.warn(sessionLine(event), fields);
        },
      },
    });
  } catch (error) {
    served.stop();
    traces.close();
    secureTraces.close();
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot listen on ${values.host} port ${values.port}: ${(error as Error).message}`);
  }
  return {
    server,
    describe: served.describe(),
    credentials: [dtls?.psk || dtls?.pskKeys ? "PSK" : "", dtls?.cert ? "certificate" : ""].filter(Boolean)
      .join(" and "),
    close: () => {
      served.stop();
      server.close();
      traces.close();
      secureTraces.close();
    },
  };
}

/** What serve serves: a site, how the listening line names it, and what stops its timers. */
interface Served {
  site: Site;
  describe(): string;
  stop(): void;
}

async function chooseSite(
  values: { plugtest?: boolean; site?: string; static?: string; writable?: boolean },
  log: ServerLog,
): Promise<Served> {
  const chosen = [values.plugtest && "--plugtest", values.site && "--site", values.static && "--static"]
    .filter(Boolean);
  // One site per server: a --site module that wants files too can add staticSite to itself.
  if (chosen.length > 1) throw new UsageError(`give one of ${chosen.join(", ")}, not both`);
  if (values.writable && values.static === undefined) throw new UsageError("--writable needs --static DIR");
  const listed = (site: Site) => () => [...site.entries()].map(([path]) => path).join(", ");
  if (values.static !== undefined) {
    // Imported here, as the plugtest site below: a server of the demo site does not load (and keep) them.
    const { staticSite } = await import("../server/static_site.ts");
    let site: Site;
    try {
      site = staticSite(values.static, { writable: values.writable });
    } catch (error) {
      throw new UsageError(`--static ${values.static}: ${(error as Error).message}`);
    }
    const access = values.writable ? "read-write" : "read-only";
    return { site, describe: () => `files under ${values.static}, ${access}`, stop: () => {} };
  }
  if (values.site !== undefined) {
    const site = await siteModule(values.site);
    return { site, describe: listed(site), stop: () => {} };
  }
  const demo = values.plugtest ? (await import("../demo/plugtest_site.ts")).plugtestSite() : demoSite({
    // The demo's lines quote what peers sent (a config document, a reading): the log makes them printable.
    log: (line) => log.info(line),
    driftEvery: DRIFT_EVERY_MS,
  });
  return { site: demo.site, describe: listed(demo.site), stop: () => demo.stop() };
}

/**
 * The Site of a module given by path (relative to the working directory): its default export, or else
 * its export `site`, being a Site or a function (sync or async, no arguments) that returns one.
 */
async function siteModule(file: string): Promise<Site> {
  // node:path and node:url only for --site: a serve without it loads less of Deno's Node layer.
  const [{ resolve }, { pathToFileURL }] = await Promise.all([import("node:path"), import("node:url")]);
  const path = resolve(Deno.cwd(), file);
  try {
    if (!(await Deno.stat(path)).isFile) throw new UsageError(`--site ${file}: not a file`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--site ${file}: ${(error as Error).message}`);
  }
  let exports: Record<string, unknown>;
  try {
    exports = await import(pathToFileURL(path).href);
  } catch (error) {
    throw new UsageError(`--site ${file}: cannot import: ${(error as Error).message}`);
  }
  let value = exports.default ?? exports.site;
  if (typeof value === "function") value = await value();
  // A module may import the library from another URL than ours (a copy, a published version): a Site is
  // then another class, so what counts is what the server calls.
  if (isSiteLike(value)) return value as Site;
  throw new UsageError(
    `--site ${file}: exports no Site (want a default export, or an export "site", that is a Site or returns one)`,
  );
}

function isSiteLike(value: unknown): boolean {
  const candidate = value as { find?: unknown; entries?: unknown } | null;
  return typeof candidate === "object" && candidate !== null && typeof candidate.find === "function" &&
    typeof candidate.entries === "function";
}

/** --workers: how many workers serve runs, 1 (no workers: the server in this thread) or more. */
function workersFlag(text: string): number {
  const workers = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(workers >= 1 && workers <= MAX_WORKERS)) {
    throw new UsageError(`--workers ${text}: expected an integer 1..${MAX_WORKERS}`);
  }
  return workers;
}

function levelFlag(level: string | undefined, quiet: boolean | undefined): LogLevel {
  if (quiet && level !== undefined) throw new UsageError("give --quiet or --log-level, not both");
  // What --quiet always did: no request, session or demo lines; errors still printed.
  if (quiet) return "error";
  if (level === undefined) return "info";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level ${level}: want one of ${LOG_LEVELS.join(", ")}`);
  }
  return level as LogLevel;
}

function formatFlag(values: { "log-format"?: string }): LogFormat {
  const format = values["log-format"] ?? "text";
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--log-format ${format}: want one of ${LOG_FORMATS.join(", ")}`);
  }
  return format as LogFormat;
}
