/**
 * The command line: `deno run -A main.ts COMMAND …`. Exit codes: 0 success,
 * 1 an error response (or one the client refused: over a limit, blocks out of
 * order), 2 usage errors and malformed input, 3 no response.
 * @module
 */
import { DECODE_USAGE, decodeCommand } from "./src/cli/decode_command.ts";
import { ENCODE_USAGE, encodeCommand } from "./src/cli/encode_command.ts";
import { EXIT_USAGE, UsageError } from "./src/cli/usage_error.ts";
import { SERVE_USAGE, serveCommand } from "./src/cli/serve_command.ts";
import { REQUEST_USAGE, requestCommand } from "./src/cli/request_command.ts";
import { DISCOVER_USAGE, discoverCommand } from "./src/cli/discover_command.ts";
import { OBSERVE_USAGE, observeCommand } from "./src/cli/observe_command.ts";
import { OVERHEAD_USAGE, overheadCommand } from "./src/cli/overhead_command.ts";
import { SIMULATE_USAGE, simulateCommand } from "./src/cli/simulate_command.ts";
import { DEVICE_USAGE, deviceCommand } from "./src/cli/device_command.ts";
import { CoapFormatError } from "./src/message/codec.ts";
import packageJson from "./package.json" with { type: "json" };

/** Each command's usage, for `COMMAND --help`. */
const COMMAND_USAGE: Record<string, string> = {
  serve: SERVE_USAGE,
  get: REQUEST_USAGE,
  put: REQUEST_USAGE,
  post: REQUEST_USAGE,
  delete: REQUEST_USAGE,
  fetch: REQUEST_USAGE,
  patch: REQUEST_USAGE,
  ipatch: REQUEST_USAGE,
  discover: DISCOVER_USAGE,
  observe: OBSERVE_USAGE,
  simulate: SIMULATE_USAGE,
  decode: DECODE_USAGE,
  encode: ENCODE_USAGE,
  overhead: OVERHEAD_USAGE,
  device: DEVICE_USAGE,
};

const COMMANDS: Record<string, (args: string[]) => number | Promise<number>> = {
  serve: serveCommand,
  get: (args) => requestCommand("GET", args),
  put: (args) => requestCommand("PUT", args),
  post: (args) => requestCommand("POST", args),
  delete: (args) => requestCommand("DELETE", args),
  fetch: (args) => requestCommand("FETCH", args),
  patch: (args) => requestCommand("PATCH", args),
  ipatch: (args) => requestCommand("iPATCH", args),
  discover: discoverCommand,
  observe: observeCommand,
  simulate: simulateCommand,
  decode: decodeCommand,
  encode: encodeCommand,
  overhead: overheadCommand,
  device: deviceCommand,
};

/** One line a command, for `--help` without a command. */
const SUMMARY = `usage: deno run -A main.ts COMMAND [flags]     (deno task COMMAND runs the same)

  serve                 run a CoAP server: the demo site, a directory (--static) or your --site
  get|put|post|delete URI    one request, the response printed (also fetch, patch, ipatch)
  observe URI           print a resource's notifications (RFC 7641)
  discover URI          list a server's resources (/.well-known/core)
  decode HEX, encode    a datagram explained byte by byte; a datagram built from flags
  simulate observe      an Observe timeline over a lossy link, in virtual time
  overhead              CoAP/UDP against HTTP/TCP: bytes, airtime, battery
  device                boot the emulated sensor node under QEMU

  COMMAND --help        the command's flags and examples
  --version             the version`;

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    console.log(SUMMARY);
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === "--version" || name === "-V") {
    console.log(`${packageJson.name} ${packageJson.version} (Deno ${Deno.version.deno})`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command "${name}"\n\n${SUMMARY}`);
  // Before the command's own parsing, which would take --help for an unknown flag.
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`usage: deno run -A main.ts ${COMMAND_USAGE[name]}`);
    return 0;
  }
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
