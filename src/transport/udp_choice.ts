/**
 * Which UDP transport a server or client gets: the batched one (recvmmsg/sendmmsg through FFI) where it
 * can run, Deno.listenDatagram elsewhere.
 * @module
 */
import { batchedUdpTransport } from "./batched_udp.ts";
import { isIpAddress, libc } from "./libc.ts";
import type { Transport } from "./transport.ts";
import { type UdpOptions, udpTransport } from "./udp.ts";

/** "batched": recvmmsg/sendmmsg through FFI (64-bit Linux); "deno": Deno.listenDatagram; "auto": the first that can run. */
export type UdpChoice = "auto" | "batched" | "deno";

const CHOICES: readonly UdpChoice[] = ["auto", "batched", "deno"];

/** Options for udpTransportFor(). */
export interface UdpChoiceOptions extends UdpOptions {
  /** Which transport; default "auto", or the environment's COAP_UDP when that is set. */
  udp?: UdpChoice;
  /** SO_REUSEPORT, on the batched transport only. */
  reusePort?: boolean;
}

/**
 * A UDP transport: `udp` when given as "batched" or "deno", else COAP_UDP from the environment when set
 * (so a whole test run can be forced onto either), else the batched one on Linux when FFI is permitted
 * and libc loads, udpTransport() otherwise. Forcing "batched" where it cannot run throws.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { udpTransportFor } from "../mod.ts";
 * const transport = udpTransportFor({ hostname: "127.0.0.1", port: 0, udp: "deno" });
 * assert.equal(transport.kind, "deno");
 * transport.close();
 * ```
 */
export function udpTransportFor(options: UdpChoiceOptions = {}): Transport {
  const chosen = udpChoiceFor(options);
  if (chosen.kind === "batched") return batchedUdpTransport(options);
  // Without SO_REUSEPORT a second socket on the port fails to bind: better to say why at the first.
  if (options.reusePort) {
    throw new Error(`SO_REUSEPORT needs the batched UDP transport, which is not used: ${chosen.why}`);
  }
  return udpTransport(options);
}

/**
 * Which transport udpTransportFor(options) builds, without building it: "batched", or "deno" and why
 * not the batched one. Throws as udpTransportFor does for an unknown choice or a forced "batched" that
 * cannot run.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { udpChoiceFor } from "./udp_choice.ts";
 * assert.equal(udpChoiceFor({ udp: "deno" }).kind, "deno");
 * ```
 */
export function udpChoiceFor(
  options: Pick<UdpChoiceOptions, "hostname" | "udp"> = {},
): { kind: "batched" } | { kind: "deno"; why: string } {
  const environment = options.udp === undefined || options.udp === "auto" ? environmentChoice() : undefined;
  const choice = environment ?? options.udp ?? "auto";
  if (!CHOICES.includes(choice)) throw new TypeError(`udp: ${choice} is not one of ${CHOICES.join(", ")}`);
  if (choice === "deno") {
    return { kind: "deno", why: environment === undefined ? '"deno" was asked for' : "COAP_UDP=deno" };
  }
  const unavailable = batchedUnavailable(options.hostname);
  if (unavailable === undefined) return { kind: "batched" };
  if (choice === "batched") throw new Error(`the batched UDP transport cannot run: ${unavailable}`);
  return { kind: "deno", why: unavailable };
}

/** COAP_UDP, when set and readable without a permission prompt. */
function environmentChoice(): UdpChoice | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: "COAP_UDP" }).state !== "granted") return undefined;
  const value = Deno.env.get("COAP_UDP");
  if (value === undefined || value === "") return undefined;
  if (!CHOICES.includes(value as UdpChoice)) {
    throw new TypeError(`COAP_UDP=${value} is not one of ${CHOICES.join(", ")}`);
  }
  return value as UdpChoice;
}

/** Why the batched transport cannot run here, or undefined when it can. */
function batchedUnavailable(hostname: string | undefined): string | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "run deno with --allow-ffi";
  if (hostname !== undefined && !isIpAddress(hostname)) return `it binds IP addresses, not ${hostname}`;
  try {
    libc();
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}
