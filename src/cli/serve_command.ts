/** `serve [--host H] [--port P] [--quiet]`: the lab's demo server. */
import { demoSite } from "../demo/demo_site.ts";
import { CoapServer, type RequestLogEntry } from "../server/server.ts";
import { addressKey } from "../transport/transport.ts";
import { parseFlags } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";
import { portFlag } from "./flag_values.ts";

/** The lab's Observe pattern: a new reading every 2 s. */
const DRIFT_EVERY_MS = 2000;

/** Usage text of `serve`. */
export const SERVE_USAGE =
  "serve [--host H] [--port P] [--quiet]   run the demo server (/temperature, /led, /config)";

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
  });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${SERVE_USAGE}`);
  }
  const quiet = values.quiet === true;
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
    });
  } catch (error) {
    demo.stop();
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot listen on ${values.host} port ${values.port}: ${(error as Error).message}`);
  }
  console.log(
    `CoAP server listening on coap://${
      addressKey(server.address)
    }  (/temperature, /led, /config, /large, /upload, /.well-known/core)`,
  );
  // Until SIGINT or SIGTERM; then everything that keeps the process alive is released, so it exits.
  await new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      resolve();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  demo.stop();
  server.close();
  return 0;
}
