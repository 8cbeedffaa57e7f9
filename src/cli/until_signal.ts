/** Waiting for Ctrl-C or a service manager's stop, for the commands that run until told otherwise. */

/** The signals that stop a command. */
export type StopSignal = "SIGINT" | "SIGTERM";

/**
 * Resolves with the first SIGINT or SIGTERM, and stops listening for them (so a second one ends the
 * process as usual); or resolves with undefined, and stops listening, once `done` aborts — for a command
 * that may also end by itself.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { untilSignal } from "./until_signal.ts";
 * const done = new AbortController();
 * const stopped = untilSignal(done.signal);
 * done.abort();
 * assert.equal(await stopped, undefined);
 * ```
 */
export function untilSignal(done?: AbortSignal): Promise<StopSignal | undefined> {
  return new Promise((resolve) => {
    const stop = (signal?: StopSignal) => {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      Deno.removeSignalListener("SIGTERM", onTerminate);
      done?.removeEventListener("abort", onDone);
      resolve(signal);
    };
    const onInterrupt = () => stop("SIGINT");
    const onTerminate = () => stop("SIGTERM");
    const onDone = () => stop();
    Deno.addSignalListener("SIGINT", onInterrupt);
    Deno.addSignalListener("SIGTERM", onTerminate);
    if (done?.aborted) return stop();
    done?.addEventListener("abort", onDone);
  });
}
