/** `serve [--host H] [--port P] [--quiet] [trace flags]`: the lab's demo server. */
import { demoSite } from "../demo/demo_site.ts";
import { CoapServer, type RequestLogEntry } from "../server/server.ts";
import { limitLines } from "../server/limits.ts";
import { addressKey } from "../transport/transport.ts";
import { parseFlags } from "./parse_flags.ts";
import { untilSignal } from "./until_signal.ts";
import { UsageError } from "./usage_error.ts";
import { portFlag } from "./flag_values.ts";
import { TRACE_FLAGS, TraceOutputs } from "./trace_flags.ts";

/** The lab's Observe pattern: a new reading every 2 s. */
const DRIFT_EVERY_MS = 2000;

/** Usage text of `serve`. */
export const SERVE_USAGE =
  "serve [--host H] [--port P] [--quiet] [--trace] [--trace-json F] [--pcap F] [--verbose]   run the demo server (/temperature, /slow, /readings, /led, /config, /large, /upload)";

function logLine(entry: RequestLogEntry): string {
  const time = new Date().toISOString().slice(11, 23);
  return `${time} ${
    addressKey(entry.peer)
  } ${entry.type} ${entry.method} ${entry.path} → ${entry.code} ${entry.codeName}` +
    ` ${entry.payloadBytes} B ${entry.elapsed.toFixed(1)} ms${entry.separate ? " (separate)" : ""}`;
}

/** Runs `serve` until SIGINT/SIGTERM; returns the exit code. */
export async function serveCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    host: { type: "string", default: "::" },
    port: { type: "string", default: "5683" },
    quiet: { type: "boolean" },
    ...TRACE_FLAGS,
  });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${SERVE_USAGE}`);
  }
  const quiet = values.quiet === true;
  const traces = new TraceOutputs(values, "server");
  const demo = demoSite({
    log: quiet ? undefined : (line) => console.log(`  ${line}`),
    driftEvery: DRIFT_EVERY_MS,
  });
  let server: CoapServer;
  try {
    server = new CoapServer(demo.site, {
      hostname: values.host,
      port: portFlag("port", values.port),
      onLog: quiet ? undefined : (entry) => console.log(logLine(entry)),
      onTrace: traces.onTrace,
    });
  } catch (error) {
    demo.stop();
    traces.close();
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot listen on ${values.host} port ${values.port}: ${(error as Error).message}`);
  }
  console.log(
    `CoAP server listening on coap://${
      addressKey(server.address)
    }  (/temperature, /slow, /readings, /led, /config, /large, /upload, /.well-known/core)`,
  );
  if (values.verbose) {
    // Every bound on the server's state, so an operator sees what a flood will run into.
    console.log("limits:");
    for (const line of limitLines(server.limits, server.endpoint.sizes, server.endpoint.parameters)) {
      console.log(`  ${line}`);
    }
  }
  // Until SIGINT or SIGTERM; then everything that keeps the process alive is released, so it exits.
  await untilSignal();
  demo.stop();
  server.close();
  traces.close();
  return 0;
}
