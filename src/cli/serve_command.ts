/** `serve [--host H] [--port P] [--plugtest] [--quiet] [trace flags]`: the demo or the plugtest server. */
import { demoSite } from "../demo/demo_site.ts";
import { plugtestSite } from "../demo/plugtest_site.ts";
import type { Site } from "../server/site.ts";
import { CoapServer, type RequestLogEntry } from "../server/server.ts";
import { limitLines } from "../server/limits.ts";
import { addressKey } from "../transport/transport.ts";
import { parseFlags } from "./parse_flags.ts";
import { untilSignal } from "./until_signal.ts";
import { UsageError } from "./usage_error.ts";
import { portFlag } from "./flag_values.ts";
import { SERVER_DTLS_FLAGS, SERVER_DTLS_USAGE, serverDtlsOptions } from "./dtls_flags.ts";
import { TRACE_FLAGS, TraceOutputs } from "./trace_flags.ts";
import { printable } from "../tools/printable.ts";

/** The lab's Observe pattern: a new reading every 2 s. */
const DRIFT_EVERY_MS = 2000;

/** Usage text of `serve`. */
export const SERVE_USAGE =
  `serve [--host H] [--port P] [--plugtest] [--quiet] [--trace] [--trace-json F] [--pcap F] [--verbose]   run the demo server (/temperature, /slow, /readings, /led, /config, /large, /upload), or with --plugtest the ETSI CoAP#4 plugtest server (/test, /separate, /validate, /link1 …)
    ${SERVER_DTLS_USAGE}`;

/**
 * One request as `serve` logs it, at `time` (UTC, to the millisecond). Escaped with printable, so a peer's
 * text cannot add lines to the log or reorder this one.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestLogLine } from "./serve_command.ts";
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

/** Runs `serve` until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string", default: "::" },
    port: { type: "string", default: "5683" },
    quiet: { type: "boolean" },
    plugtest: { type: "boolean" },
    ...SERVER_DTLS_FLAGS,
    ...TRACE_FLAGS,
  });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${SERVE_USAGE}`);
  }
  const quiet = values.quiet === true;
  const traces = new TraceOutputs(values, "server");
  // Inside the DTLS sessions: the diagram and --verbose lines; --pcap and --trace-json are the coap:// port's.
  const secureTraces = new TraceOutputs({ trace: values.trace, verbose: values.verbose }, "server");
  const dtls = serverDtlsOptions(values, quiet ? undefined : (line) => console.log(printable(line)));
  const demo: { site: Site; stop(): void } = values.plugtest === true ? plugtestSite() : demoSite({
    // The demo's lines quote what peers sent (a config document, a reading).
    log: quiet ? undefined : (line) => console.log(`  ${printable(line)}`),
    driftEvery: DRIFT_EVERY_MS,
  });
  let server: CoapServer;
  try {
    server = new CoapServer(demo.site, {
      hostname: values.host,
      port: portFlag("port", values.port),
      onLog: quiet ? undefined : (entry) => console.log(requestLogLine(entry)),
      onTrace: traces.onTrace,
      dtls: dtls && { ...dtls, onTrace: secureTraces.onTrace },
    });
  } catch (error) {
    demo.stop();
    traces.close();
    secureTraces.close();
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot listen on ${values.host} port ${values.port}: ${(error as Error).message}`);
  }
  const paths = [...demo.site.entries()].map(([path]) => path);
  console.log(
    `CoAP server listening on coap://${addressKey(server.address)}  (${
      [...paths, "/.well-known/core"].join(", ")
    })`,
  );
  if (server.secure) {
    const kinds = [dtls!.psk || dtls!.pskKeys ? "PSK" : "", dtls!.cert ? "certificate" : ""].filter(Boolean);
    console.log(`and on coaps://${addressKey(server.secure.address)}  (DTLS 1.2, ${kinds.join(" and ")})`);
  }
  if (values.verbose) {
    // Every bound on the server's state, so an operator sees what a flood will run into.
    console.log("limits:");
    for (const line of limitLines(server.limits, server.endpoint.sizes, server.endpoint.parameters)) {
      console.log(`  ${line}`);
    }
    if (server.dtls) {
      for (const [name, value] of Object.entries(server.dtls.limits)) console.log(`  dtls.${name}  ${value}`);
    }
  }
  // Until SIGINT or SIGTERM; then everything that keeps the process alive is released, so it exits.
  await untilSignal();
  demo.stop();
  server.close();
  traces.close();
  secureTraces.close();
  return 0;
}
