/** `discover URI`: the server's /.well-known/core as a table. */
import { parseLinkFormat } from "../tools/link_format.ts";
import { printable } from "../tools/printable.ts";
import { CLIENT_FLAGS, clientFromFlags, printResponse, withClientErrors } from "./request_command.ts";
import { parseFlags } from "./parse_flags.ts";
import { secondsFlag } from "./flag_values.ts";
import { forTerminal } from "./terminal_output.ts";
import { EXIT_ERROR_RESPONSE, EXIT_OK, UsageError } from "./usage_error.ts";

/** Usage text of `discover`. */
export const DISCOVER_USAGE =
  "discover URI [--json] [--timeout S] [--trace] [--trace-json F] [--pcap F] [--verbose]   list a server's resources (/.well-known/core)";

const COLUMNS = ["rt", "if", "ct", "sz", "obs", "title"];

/** Runs `discover`; returns the exit code. */
export async function discoverCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    json: { type: "boolean" },
    ...CLIENT_FLAGS,
  });
  if (positionals.length !== 1) throw new UsageError(`expected one URI\nusage: ${DISCOVER_USAGE}`);
  let uri: URL;
  try {
    uri = new URL(positionals[0]);
  } catch {
    throw new UsageError(`"${positionals[0]}" is not a URI (expected coap://host[:port])`);
  }
  if (uri.pathname === "" || uri.pathname === "/") uri.pathname = "/.well-known/core";
  const client = clientFromFlags(values, positionals[0]);
  try {
    return await withClientErrors(async () => {
      const started = performance.now();
      const response = await client.get(uri, {
        timeout: values.timeout === undefined ? undefined : secondsFlag("timeout", values.timeout),
      });
      if (!response.isSuccess || values.json) {
        printResponse(response, values.json === true, performance.now() - started);
        return response.isSuccess ? EXIT_OK : EXIT_ERROR_RESPONSE;
      }
      // The server's links and attributes, escaped: a table cell must not break or reorder its row.
      const rows = parseLinkFormat(response.text()).map((link) =>
        [
          link.href,
          ...COLUMNS.map((name) => {
            const value = link.attributes[name];
            return value === true ? "yes" : value ?? "";
          }),
        ].map((cell) => printable(cell))
      );
      const header = ["path", ...COLUMNS];
      const widths = header.map((name, i) => Math.max(name.length, ...rows.map((row) => row[i].length)));
      for (const row of [header, ...rows]) {
        console.log(forTerminal(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()));
      }
      return EXIT_OK;
    });
  } finally {
    client.close();
  }
}
