/**
 * `serve --workers N`: N Deno Workers, each with its own CoapServer on the same port through its own
 * SO_REUSEPORT socket. This thread only starts them, says where they listen, and stops them.
 *
 * Linux's SO_REUSEPORT (socket(7)) spreads datagrams over the sockets by a hash of each one's 4-tuple,
 * so all of one peer's datagrams (from one source port) reach one worker: its deduplication, tokens,
 * Block1 uploads and observations stay on that worker, and none of that state needs to be shared. The
 * mapping holds while the set of sockets does: all are bound before the listening line, and none leaves
 * until serve stops. What is not shared either is the site's own state: each worker builds its own, so
 * a PUT to the demo's /led or /config is seen only by the peers the same worker serves.
 * @module
 */
import { udpChoiceFor } from "../transport/udp_choice.ts";
import { serverDtlsOptions } from "./dtls_flags.ts";
import { udpFlag } from "./udp_flag.ts";
import { listeningLine, printLimits, type ServeFlags } from "./serve_command.ts";
import type { ServerLog } from "./server_log.ts";
import { untilSignal } from "./until_signal.ts";
import { UsageError } from "./usage_error.ts";

/** How long the workers get to close their servers after "stop" before they are terminated anyway. */
const STOP_WAIT_MS = 5000;

/** What the pool tells a worker: start serving (on `port` instead of --port's), or stop. */
export type PoolMessage =
  | { kind: "start"; args: string[]; worker: number; port?: number }
  | { kind: "stop" };

/** What a worker tells the pool: it is bound, it could not start, or its server is closed. */
export type WorkerMessage =
  | { kind: "ready"; url: string; port: number; describe: string; limits: string[] }
  | { kind: "failed"; message: string; usage: boolean }
  | { kind: "stopped" };

/** What serveWorkers needs beyond serve's arguments. */
export interface ServeWorkersOptions {
  /** How many workers, 2 or more. */
  workers: number;
  /** This thread's log: the listening line, the limits, a worker's failure. */
  log: ServerLog;
}

/**
 * Runs serve's `args` in `workers` workers until SIGINT/SIGTERM; returns the exit code: 0 after a
 * signal, 1 when a worker cannot start (a usage error, exit 2, when it is the first and the flags are
 * wrong) or fails while serving.
 */
export async function serveWorkers(
  args: string[],
  values: ServeFlags,
  { workers, log }: ServeWorkersOptions,
): Promise<number> {
  refuseWithWorkers(values, workers);
  // A worker that throws while serving breaks the pool: every worker is then stopped and serve exits 1.
  const broken = new AbortController();
  const onBroken = (error: Error) => {
    log.error(error.message);
    broken.abort();
  };
  // Listening for signals from the start, so one that comes while the workers bind still stops them.
  const stopped = untilSignal(broken.signal);
  const pool: PoolWorker[] = [new PoolWorker(1, workers, onBroken)];
  let ready: Extract<WorkerMessage, { kind: "ready" }>;
  try {
    // The first alone, then the rest on its port: with --port 0 each would otherwise pick its own.
    ready = await pool[0].start(args);
    for (let worker = 2; worker <= workers; worker++) pool.push(new PoolWorker(worker, workers, onBroken));
    await Promise.all(pool.slice(1).map((worker) => worker.start(args, ready.port)));
  } catch (error) {
    broken.abort();
    await stopAll(pool);
    if (error instanceof UsageError) throw error;
    log.error((error as Error).message);
    return 1;
  }
  if (!broken.signal.aborted) {
    log.started(listeningLine(ready.url, ready.describe, workers), { url: ready.url, workers });
    printLimits(log, values, ready.limits, "limits (of each worker):");
  }
  const signal = await stopped;
  await stopAll(pool);
  return signal === undefined ? 1 : 0;
}

/** What serve cannot do with more than one worker, as usage errors. */
function refuseWithWorkers(values: ServeFlags, workers: number): void {
  const flag = `--workers ${workers}`;
  let chosen;
  try {
    chosen = udpChoiceFor({ hostname: values.host, udp: udpFlag(values.udp) });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
  if (chosen.kind === "deno") {
    throw new UsageError(
      `${flag} needs the batched UDP transport (a SO_REUSEPORT socket per worker), not used here: ${chosen.why}`,
    );
  }
  if (serverDtlsOptions(values) !== undefined) {
    throw new UsageError(`${flag}: coaps:// is served without workers (no DTLS server per worker yet)`);
  }
  for (const trace of ["trace", "trace-json", "pcap"] as const) {
    if (values[trace] !== undefined) {
      throw new UsageError(`${flag}: --${trace} follows one socket; give it without --workers`);
    }
  }
}

/** Asks every worker to stop, and terminates each once it has, or once STOP_WAIT_MS have passed. */
async function stopAll(pool: PoolWorker[]): Promise<void> {
  await Promise.all(pool.map((worker) => worker.stop()));
}

/** One worker of the pool, asked one thing at a time: each message it posts answers the last ask. */
class PoolWorker {
  readonly #number: number;
  readonly #of: number;
  readonly #worker: Worker;
  #answer?: { resolve(message: WorkerMessage): void; reject(error: Error): void };

  constructor(number: number, of: number, onBroken: (error: Error) => void) {
    this.#number = number;
    this.#of = of;
    // Deno workers inherit the main thread's permissions: the worker needs net, ffi and read as serve does.
    this.#worker = new Worker(new URL("./serve_worker.ts", import.meta.url), {
      type: "module",
      name: `serve worker ${number}`,
    });
    this.#worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      const answer = this.#answer;
      this.#answer = undefined;
      answer?.resolve(event.data);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      // Handled here: left alone, a worker's uncaught error would end the process with a stack trace.
      event.preventDefault();
      const error = new Error(`worker ${number} of ${of} failed: ${event.message}`);
      const answer = this.#answer;
      this.#answer = undefined;
      if (answer) answer.reject(error);
      else onBroken(error);
    };
  }

  /** Starts the worker's server (on `port`, when given); resolves once it is bound. */
  async start(args: string[], port?: number): Promise<Extract<WorkerMessage, { kind: "ready" }>> {
    const answer = await this.#ask({ kind: "start", args, worker: this.#number, port });
    if (answer.kind === "ready") return answer;
    const message = answer.kind === "failed" ? answer.message : `answered "${answer.kind}" to start`;
    // The first worker's usage errors are the flags' (a bad --site, a port in use): as without workers.
    if (this.#number === 1 && answer.kind === "failed" && answer.usage) throw new UsageError(message);
    throw new Error(`worker ${this.#number} of ${this.#of}: ${message}`);
  }

  /** Asks the worker to close its server, then terminates it: once it has, or after STOP_WAIT_MS. */
  async stop(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, STOP_WAIT_MS));
    try {
      await Promise.race([this.#ask({ kind: "stop" }).catch(() => {}), late]);
    } finally {
      clearTimeout(timer);
      this.#worker.terminate();
    }
  }

  #ask(message: PoolMessage): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      this.#answer = { resolve, reject };
      this.#worker.postMessage(message);
    });
  }
}
