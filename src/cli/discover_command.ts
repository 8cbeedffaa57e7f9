/** `discover URI`: the server's /.well-known/core as a table. */
import { type Link, parseLinkFormat } from "../tools/link_format.ts";
import { printable } from "../tools/printable.ts";
import {
  CLIENT_FLAGS,
  CLIENT_USAGE,
  clientFromFlags,
  printResponse,
  withClientErrors,
} from "./request_command.ts";
import { parseFlags } from "./parse_flags.ts";
import { secondsFlag } from "./flag_values.ts";
import { forTerminal } from "./terminal_output.ts";
import { EXIT_ERROR_RESPONSE, EXIT_OK, UsageError } from "./usage_error.ts";

/** Usage text of `discover`. */
export const DISCOVER_USAGE = `discover URI [--json] [flags]
  List a server's resources (its /.well-known/core, RFC 6690); links elsewhere apart.
    ${CLIENT_USAGE}
  example:
    discover coap://127.0.0.1`;

const COLUMNS = ["rt", "if", "ct", "sz", "obs", "title"];
/** The columns of links to elsewhere: `rel` says what they are to this server (RFC 6690 §3.3, RFC 8288). */
const LINK_COLUMNS = ["rel", "rt", "ct", "title"];

/**
 * The lines `discover` prints for a /.well-known/core document fetched from `base`: a table of the
 * server's own resources, then, under "links", the links that point elsewhere (another host, port or
 * scheme, such as `<http://example.org/impl-info>;rel="impl-info"`), each as the full URI its target
 * resolves to (RFC 6690 §2.1: relative to `base`). Cells are escaped: one must not break or reorder its row.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { discoveryLines } from "./discover_command.ts";
 * const lines = discoveryLines(
 *   '</led>;rt="light";obs,<http://example.org/impl-info>;rel="impl-info"',
 *   new URL("coap://127.0.0.1:5683/.well-known/core"),
 * );
 * assert.deepEqual(lines, [
 *   "path  rt     if  ct  sz  obs  title",
 *   "/led  light              yes",
 *   "",
 *   "links",
 *   "link                          rel        rt  ct  title",
 *   "http://example.org/impl-info  impl-info",
 * ]);
 * ```
 */
export function discoveryLines(document: string, base: URL): string[] {
  const local: string[][] = [];
  const external: string[][] = [];
  for (const link of parseLinkFormat(document)) {
    const target = URL.canParse(link.href, base) ? new URL(link.href, base) : undefined;
    // Same scheme, host and port: a resource of this server, named by its path.
    if (target === undefined || endpointOf(target) === endpointOf(base)) {
      local.push([
        target === undefined ? link.href : `${target.pathname}${target.search}`,
        ...cells(link, COLUMNS),
      ]);
    } else {
      external.push([target.href, ...cells(link, LINK_COLUMNS)]);
    }
  }
  const lines = table(["path", ...COLUMNS], local);
  return external.length === 0
    ? lines
    : [...lines, "", "links", ...table(["link", ...LINK_COLUMNS], external)];
}

/** Scheme, host and port, the port made explicit (RFC 7252 §6.1-6.2: 5683 for coap, 5684 for coaps). */
function endpointOf(uri: URL): string {
  const port = uri.port || DEFAULT_PORTS[uri.protocol] || "";
  return `${uri.protocol}//${uri.hostname.toLowerCase()}:${port}`;
}

const DEFAULT_PORTS: Record<string, string> = { "coap:": "5683", "coaps:": "5684" };

function cells(link: Link, names: string[]): string[] {
  return names.map((name) => {
    const value = link.attributes[name];
    return value === true ? "yes" : value ?? "";
  });
}

function table(header: string[], rows: string[][]): string[] {
  const escaped = rows.map((row) => row.map((cell) => printable(cell)));
  const widths = header.map((name, i) => Math.max(name.length, ...escaped.map((row) => row[i].length)));
  return [header, ...escaped].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
}

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
  const client = await clientFromFlags(values, positionals[0]);
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
      for (const line of discoveryLines(response.text(), uri)) console.log(forTerminal(line));
      return EXIT_OK;
    });
  } finally {
    client.close();
  }
}
