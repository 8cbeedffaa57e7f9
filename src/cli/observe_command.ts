/** `observe URI [--count N] [--duration S] [--json]`: a resource's notifications as they arrive. */
import type { CoapResponse } from "../client/response.ts";
import { observeSequence } from "../client/observation.ts";
import type { ObservationEvent } from "../client/observation.ts";
import { TransferLimitError } from "../client/transfer_errors.ts";
import { typeName } from "../message/type.ts";
import { bytesToHex } from "../tools/hex.ts";
import { messageToJson } from "../tools/message_json.ts";
import { printable } from "../tools/printable.ts";
import { fitColumns, TRACE_COLUMNS } from "../tools/trace_line.ts";
import { integerFlag, secondsFlag } from "./flag_values.ts";
import { parseFlags } from "./parse_flags.ts";
import {
  CLIENT_FLAGS,
  CLIENT_USAGE,
  clientFromFlags,
  limitMessage,
  printResponse,
  withClientErrors,
} from "./request_command.ts";
import { forTerminal } from "./terminal_output.ts";
import { untilSignal } from "./until_signal.ts";
import { EXIT_ERROR_RESPONSE, EXIT_OK, UsageError } from "./usage_error.ts";

/** Usage text of `observe`. */
export const OBSERVE_USAGE = `observe URI [--count N] [--duration S] [--json] [flags]
  Register with a resource (RFC 7641) and print each notification; deregisters after --count
  notifications, --duration seconds, Ctrl-C or SIGTERM. Exit 1 when the resource is not observable.
    ${CLIENT_USAGE}
  example:
    observe coap://127.0.0.1/temperature --count 5`;

/**
 * How long the command waits for its deregistration to be acknowledged before it exits anyway: past the
 * first retransmission (ACK_TIMEOUT × ACK_RANDOM_FACTOR is at most 3 s), for a server that is gone.
 */
const DEREGISTER_WAIT_MS = 5_000;

/** A notification's line: it fits TRACE_COLUMNS, its payload cut short with "…", unless `wide`. */
function line(label: string, response: CoapResponse, wide: boolean): string {
  const m = response.message;
  const sequence = observeSequence(response);
  const text = [
    label.padEnd(12),
    `seq ${sequence ?? "-"}`.padEnd(12),
    typeName(m.type),
    `MID 0x${m.messageId.toString(16).padStart(4, "0")}`,
    `token ${bytesToHex(m.token)}`,
    `${response.codeString} ${response.codeName}`,
    printable(JSON.stringify(response.text())),
  ].join("  ");
  return wide ? text : fitColumns(text, TRACE_COLUMNS);
}

/** The stderr line for what the observation reports besides notifications. */
function eventLine(event: ObservationEvent): string {
  if (event.type === "incomplete") {
    const { error } = event;
    return `notification dropped: ${
      error instanceof TransferLimitError ? limitMessage(error) : error.message
    }`;
  }
  const seconds = (ms: number) => Number((ms / 1000).toFixed(1));
  return `re-registering: attempt ${event.attempt}, no notification for ${seconds(event.silentMs)} s;` +
    ` next attempt in ${seconds(event.nextAttemptMs)} s`;
}

/** Runs `observe`; returns the exit code. */
export async function observeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    count: { type: "string" },
    duration: { type: "string" },
    json: { type: "boolean" },
    ...CLIENT_FLAGS,
  });
  if (positionals.length !== 1) throw new UsageError(`expected one URI\nusage: ${OBSERVE_USAGE}`);
  const count = values.count === undefined ? Infinity : integerFlag("count", values.count, 1_000_000);
  const duration = values.duration === undefined ? undefined : secondsFlag("duration", values.duration);
  const client = await clientFromFlags(values, positionals[0]);
  const print = (label: string, response: CoapResponse) =>
    console.log(forTerminal(
      values.json
        ? JSON.stringify({ event: label, ...messageToJson(response.message) })
        : line(label, response, values.wide === true),
    ));
  // Ctrl-C and SIGTERM stop the command the way --count and --duration do: deregistered first.
  const finished = new AbortController();
  const stopped = untilSignal(finished.signal);
  const registering = new AbortController();
  stopped.then((signal) => signal && registering.abort(new Error(`${signal} while registering`)));
  try {
    return await withClientErrors(async () => {
      let observation;
      try {
        observation = await client.observe(positionals[0], {
          timeout: values.timeout === undefined ? undefined : secondsFlag("timeout", values.timeout),
          signal: registering.signal,
        });
      } catch (error) {
        if (registering.signal.aborted) return EXIT_OK;
        throw error;
      }
      if (!observation.response.isSuccess) {
        printResponse(observation.response, values.json === true, 0);
        return EXIT_ERROR_RESPONSE;
      }
      if (!observation.active) {
        // RFC 7641 §3.1: a response without an Observe option means the server did not register us.
        print("not observable", observation.response);
        console.error("error: the resource is not observable (its response has no Observe option)");
        return EXIT_ERROR_RESPONSE;
      }
      print("registered", observation.response);
      observation.onEvent = (event) => console.error(forTerminal(eventLine(event), Deno.stderr));
      let deregistering: Promise<void> | undefined;
      const stop = () => deregistering ??= observation.cancel();
      stopped.then((signal) => {
        if (signal === undefined) return;
        console.error(`${signal}: deregistering`);
        stop();
      });
      const timer = duration === undefined ? undefined : setTimeout(stop, duration);
      // Iterated by hand: leaving a for-await loop would deregister without the bound below.
      const notifications = observation[Symbol.asyncIterator]();
      try {
        for (let received = 0; received < count; received++) {
          const next = await notifications.next();
          if (next.done) break;
          print("notification", next.value);
        }
      } finally {
        clearTimeout(timer);
      }
      await bounded(stop(), DEREGISTER_WAIT_MS);
      return EXIT_OK;
    });
  } finally {
    finished.abort();
    client.close();
  }
}

/** Waits for `promise`, but no longer than `ms`. */
async function bounded(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  } finally {
    clearTimeout(timer);
  }
}
