/**
 * The command line: `deno run -A main.ts COMMAND …`. Exit codes: 0 success,
 * 1 an error response (or one the client refused: over a limit, blocks out of
 * order), 2 usage errors and malformed input, 3 no response.
 * @module
 */
import { EXIT_USAGE, UsageError } from "./src/cli/usage_error.ts";
import type { Method } from "./src/client/client.ts";
import { CoapFormatError } from "./src/message/codec.ts";
import packageJson from "./package.json" with { type: "json" };

/** A command: its usage for `COMMAND --help`, and what runs it. */
interface Command {
  usage: string;
  run: (args: string[]) => number | Promise<number>;
}

/**
 * Each command's module, imported only when that command runs: `serve` then does not load (and keep in
 * memory) the client, the simulator or the device bridge; --help and the exit codes are the same.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => {
    const { SERVE_USAGE, serveCommand } = await import("./src/cli/serve_command.ts");
    return { usage: SERVE_USAGE, run: serveCommand };
  },
  get: () => request("GET"),
  put: () => request("PUT"),
  post: () => request("POST"),
  delete: () => request("DELETE"),
  fetch: () => request("FETCH"),
  patch: () => request("PATCH"),
  ipatch: () => request("iPATCH"),
  discover: async () => {
    const { DISCOVER_USAGE, discoverCommand } = await import("./src/cli/discover_command.ts");
    return { usage: DISCOVER_USAGE, run: discoverCommand };
  },
  observe: async () => {
    const { OBSERVE_USAGE, observeCommand } = await import("./src/cli/observe_command.ts");
    return { usage: OBSERVE_USAGE, run: observeCommand };
  },
  simulate: async () => {
    const { SIMULATE_USAGE, simulateCommand } = await import("./src/cli/simulate_command.ts");
    return { usage: SIMULATE_USAGE, run: simulateCommand };
  },
  decode: async () => {
    const { DECODE_USAGE, decodeCommand } = await import("./src/cli/decode_command.ts");
    return { usage: DECODE_USAGE, run: decodeCommand };
  },
  encode: async () => {
    const { ENCODE_USAGE, encodeCommand } = await import("./src/cli/encode_command.ts");
    return { usage: ENCODE_USAGE, run: encodeCommand };
  },
  overhead: async () => {
    const { OVERHEAD_USAGE, overheadCommand } = await import("./src/cli/overhead_command.ts");
    return { usage: OVERHEAD_USAGE, run: overheadCommand };
  },
  device: async () => {
    const { DEVICE_USAGE, deviceCommand } = await import("./src/cli/device_command.ts");
    return { usage: DEVICE_USAGE, run: deviceCommand };
  },
};

/** A request command: they share one module and usage. */
async function request(method: Method): Promise<Command> {
  const { REQUEST_USAGE, requestCommand } = await import("./src/cli/request_command.ts");
  return { usage: REQUEST_USAGE, run: (args) => requestCommand(method, args) };
}

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
  const load = COMMANDS[name];
  if (!load) throw new UsageError(`unknown command "${name}"\n\n${SUMMARY}`);
  const command = await load();
  // Before the command's own parsing, which would take --help for an unknown flag.
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(`usage: deno run -A main.ts ${command.usage}`);
    return 0;
  }
  return await command.run(rest);
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
