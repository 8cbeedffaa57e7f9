/**
 * The command line: `deno run -A main.ts COMMAND …`. Exit codes: 0 success,
 * 2 usage errors and malformed input.
 * @module
 */
import { DECODE_USAGE, decodeCommand } from "./src/cli/decode_command.ts";
import { ENCODE_USAGE, encodeCommand } from "./src/cli/encode_command.ts";
import { EXIT_USAGE, UsageError } from "./src/cli/usage_error.ts";
import { CoapFormatError } from "./src/message/codec.ts";

const COMMANDS: Record<string, (args: string[]) => number | Promise<number>> = {
  decode: decodeCommand,
  encode: encodeCommand,
};

const USAGE = `usage: deno run -A main.ts COMMAND [flags]

  ${DECODE_USAGE}
  ${ENCODE_USAGE}`;

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${USAGE}`);
  return await command(rest);
}

try {
  Deno.exitCode = await main(Deno.args);
} catch (error) {
  if (error instanceof UsageError || error instanceof CoapFormatError || error instanceof RangeError) {
    console.error(`error: ${error.message}`);
    Deno.exitCode = EXIT_USAGE;
  } else {
    throw error;
  }
}
