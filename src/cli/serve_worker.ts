/**
 * The entry of one `serve --workers` worker (serve_workers.ts): on "start" it builds the site the flags
 * choose — its own, since objects cannot be sent to a worker — and serves it on a SO_REUSEPORT socket,
 * logging through its own ServerLog; on "stop" it closes the server.
 *
 * Its lines go straight to stdout and stderr: console.log writes each line whole under the process's
 * one stdout lock, so workers' lines do not interleave mid-line.
 * @module
 */
import { addressKey } from "../transport/transport.ts";
import { type OpenServe, openServe, parseServeFlags, serveLog, serverLimitLines } from "./serve_command.ts";
import type { PoolMessage, WorkerMessage } from "./serve_workers.ts";
import { UsageError } from "./usage_error.ts";

/** The worker's global scope, as this file uses it (the window types do not describe a worker's). */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<PoolMessage>) => void) | null;
  postMessage(message: WorkerMessage): void;
};

let open: OpenServe | undefined;

scope.onmessage = async ({ data }) => {
  if (data.kind === "stop") {
    open?.close();
    return scope.postMessage({ kind: "stopped" });
  }
  try {
    const values = parseServeFlags(data.args);
    const log = serveLog(values, data.worker);
    const port = data.port === undefined ? values.port : String(data.port);
    open = await openServe({ ...values, port }, log, { reusePort: true });
    const url = `coap://${addressKey(open.server.address)}`;
    log.debug(`listening on ${url}`);
    scope.postMessage({
      kind: "ready",
      url,
      port: open.server.address.port,
      describe: open.describe,
      limits: serverLimitLines(open.server),
    });
  } catch (error) {
    scope.postMessage({
      kind: "failed",
      message: (error as Error).message,
      usage: error instanceof UsageError,
    });
  }
};
