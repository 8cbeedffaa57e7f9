/**
 * coap:// URIs to destination addresses and Uri-* options (RFC 7252 §6.4).
 * @module
 */
import { lookup } from "node:dns/promises";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { encodeString, splitUriPath, splitUriQuery } from "../message/option_value.ts";
import type { Address } from "../transport/transport.ts";

/** The default CoAP port (RFC 7252 §6.1). */
export const COAP_PORT = 5683;
/** The default coaps port (RFC 7252 §6.2). */
export const COAPS_PORT = 5684;

/** Where a request goes and the options that name the resource. */
export interface RequestTarget {
  /** The first of `addresses`: where the request goes when no other is known to answer. */
  readonly address: Address;
  /**
   * Every address the host stands for, in the resolver's order (one for an IP literal). The client
   * sends to the first that answers a CoAP ping (RFC 7252 §4.3), as coap-client tries each in turn.
   */
  readonly addresses: readonly Address[];
  /** Uri-Host (names only), Uri-Path and Uri-Query, in option order. */
  readonly options: CoapOption[];
  /** True for coaps://: the request goes over DTLS (RFC 7252 §6.2). */
  readonly secure: boolean;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A coap:// URI taken apart without touching the network. */
export interface ParsedCoapUri {
  /** The host without IPv6 brackets. */
  readonly host: string;
  /** True for an IPv4 or IPv6 literal, which is not sent as Uri-Host (§6.4 step 5). */
  readonly isLiteral: boolean;
  readonly port: number;
  /** True for coaps://. */
  readonly secure: boolean;
  /** Uri-Host (names only), Uri-Path and Uri-Query, in option order. */
  readonly options: CoapOption[];
}

/**
 * Parses a coap:// URI into its host, port and Uri-* options, with no DNS lookup.
 * Throws URIError for what is not a usable coap URI.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COAP_PORT, parseCoapUri } from "./uri.ts";
 * const { host, isLiteral, port, options } = parseCoapUri("coap://192.0.2.1/temperature");
 * assert.deepEqual([host, isLiteral, port], ["192.0.2.1", true, COAP_PORT]);
 * assert.equal(options.length, 1); // Uri-Path only: an IP literal is not sent as Uri-Host
 * ```
 */
export function parseCoapUri(uri: string | URL): ParsedCoapUri {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new URIError(`"${uri}" is not a URI (expected coap://host[:port]/path)`);
  }
  const secure = url.protocol === "coaps:";
  if (!secure && url.protocol !== "coap:") {
    // coap+tcp, coap+ws (RFC 8323) and anything else: refused by name, not taken for a typo.
    throw new URIError(
      `scheme "${url.protocol.slice(0, -1)}" is not supported (coap:// and coaps:// are): ${uri}`,
    );
  }
  if (url.hash !== "") throw new URIError(`a coap URI has no fragment (§6.4 step 4): ${uri}`);
  if (url.hostname === "") throw new URIError(`no host in ${uri}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? (secure ? COAPS_PORT : COAP_PORT) : Number(url.port);
  const options: CoapOption[] = [];
  const isLiteral = IPV4.test(host) || host.includes(":");
  if (!isLiteral) options.push({ number: OptionNumber.UriHost, value: encodeString(host) });
  for (const segment of splitUriPath(url.pathname)) {
    options.push({ number: OptionNumber.UriPath, value: segment });
  }
  for (const query of splitUriQuery(url.search)) {
    options.push({ number: OptionNumber.UriQuery, value: query });
  }
  return { host, isLiteral, port, secure, options };
}

/**
 * Parses a coap:// URI and resolves its host to all its addresses: IP literals stand for themselves and
 * are not sent as Uri-Host (§6.4 step 5); "localhost" and names under it are ::1 and 127.0.0.1 (RFC 6761
 * §6.3), whatever /etc/hosts says; other names go to the system resolver (getaddrinfo: /etc/hosts, then
 * DNS, in the system's order of preference) and are sent as Uri-Host.
 * Throws URIError for what is not a usable coap URI, or a name that does not resolve.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OptionNumber, resolveCoapUri } from "../mod.ts";
 * const { address, addresses, options } = await resolveCoapUri("coap://localhost:61616/temperature?unit=c");
 * assert.deepEqual(addresses, [{ hostname: "127.0.0.1", port: 61616 }, { hostname: "::1", port: 61616 }]);
 * assert.deepEqual(address, addresses[0]);
 * // A name, unlike an IP literal, is also sent as Uri-Host.
 * assert.deepEqual(
 *   options.map((option) => option.number),
 *   [OptionNumber.UriHost, OptionNumber.UriPath, OptionNumber.UriQuery],
 * );
 * ```
 */
export async function resolveCoapUri(uri: string | URL): Promise<RequestTarget> {
  const { host, isLiteral, port, secure, options } = parseCoapUri(uri);
  const hostnames = isLiteral ? [host] : await resolveHost(host);
  const addresses = hostnames.map((hostname) => ({ hostname, port }));
  return { address: addresses[0], addresses, options, secure };
}

/**
 * RFC 6761 §6.3: localhost names are loopback in both families. IPv4 first, which is where these
 * names went before they meant both, so a request nobody answers goes where it always did.
 */
const LOOPBACK = ["127.0.0.1", "::1"];

/**
 * The addresses a host name stands for. getaddrinfo (node:dns lookup) rather than Deno.resolveDns:
 * it reads /etc/hosts and follows the system's resolver configuration and address order, as
 * coap-client does; resolveDns asks DNS servers only.
 */
async function resolveHost(host: string): Promise<string[]> {
  const name = host.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return [...LOOPBACK];
  let found: { address: string }[];
  try {
    found = await lookup(name, { all: true, verbatim: true });
  } catch {
    throw new URIError(`cannot resolve host "${host}"`);
  }
  const unique = [...new Set(found.map(({ address }) => address))];
  if (unique.length === 0) throw new URIError(`cannot resolve host "${host}"`);
  return unique;
}
