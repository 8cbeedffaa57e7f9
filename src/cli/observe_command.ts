/** `observe URI [--count N] [--duration S] [--json]`: a resource's notifications as they arrive. */
import type { CoapResponse } from "../client/response.ts";
import { observeSequence } from "../client/observation.ts";
import { typeName } from "../message/type.ts";
import { bytesToHex } from "../tools/hex.ts";
import { messageToJson } from "../tools/message_json.ts";
import { printable } from "../tools/printable.ts";
import { integerFlag, secondsFlag } from "./flag_values.ts";
import { parseFlags } from "./parse_flags.ts";
import { CLIENT_FLAGS, clientFromFlags, printResponse, withClientErrors } from "./request_command.ts";
import { EXIT_ERROR_RESPONSE, EXIT_OK, UsageError } from "./usage_error.ts";

/** Usage text of `observe`. */
export const OBSERVE_USAGE =
  "observe URI [--count N] [--duration S] [--json] [--trace] [--trace-json F] [--pcap F] [--verbose]   print a resource's notifications (RFC 7641)";

function line(label: string, response: CoapResponse): string {
  const m = response.message;
  const sequence = observeSequence(response);
  return [
    label.padEnd(12),
    `seq ${sequence ?? "-"}`.padEnd(12),
    typeName(m.type),
    `MID 0x${m.messageId.toString(16).padStart(4, "0")}`,
    `token ${bytesToHex(m.token)}`,
    `${response.codeString} ${response.codeName}`,
    printable(JSON.stringify(response.text())),
  ].join("  ");
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
  const client = clientFromFlags(values);
  const print = (label: string, response: CoapResponse) =>
    console.log(
      values.json
        ? JSON.stringify({ event: label, ...messageToJson(response.message) })
        : line(label, response),
    );
  try {
    return await withClientErrors(async () => {
      const observation = await client.observe(positionals[0], {
        timeout: values.timeout === undefined ? undefined : secondsFlag("timeout", values.timeout),
      });
      if (!observation.response.isSuccess) {
        printResponse(observation.response, values.json === true, 0);
        return EXIT_ERROR_RESPONSE;
      }
      print(observation.active ? "registered" : "not observable", observation.response);
      const stop = duration === undefined ? undefined : setTimeout(() => observation.cancel(), duration);
      let received = 0;
      try {
        for await (const notification of observation) {
          print("notification", notification);
          if (++received >= count) break;
        }
      } finally {
        clearTimeout(stop);
      }
      return EXIT_OK;
    });
  } finally {
    client.close();
  }
}
