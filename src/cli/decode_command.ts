/** `decode [--json] HEX`: a datagram explained byte by byte, or as JSON. */
import { decode } from "../message/codec.ts";
import { annotate } from "../tools/annotate.ts";
import { hexToBytes } from "../tools/hex.ts";
import { messageToJson } from "../tools/message_json.ts";
import { parseFlags } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";

/** Usage text of `decode`. */
export const DECODE_USAGE = `decode [--json] HEX
  Explain a CoAP datagram byte by byte (or as JSON).
  example:
    decode 4101abcd11bb74656d7065726174757265`;

/** Runs `decode`; returns the exit code. Format errors propagate as CoapFormatError. */
export function decodeCommand(args: string[]): number {
  const { values, positionals } = parseFlags(args, { json: { type: "boolean" } });
  if (positionals.length === 0) throw new UsageError(`missing HEX\nusage: ${DECODE_USAGE}`);
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(positionals.join(""));
  } catch (error) {
    throw new UsageError(`bad hex: ${(error as Error).message}`);
  }
  if (values.json) console.log(JSON.stringify(messageToJson(decode(bytes)), null, 2));
  else console.log(annotate(bytes).join("\n"));
  return 0;
}
