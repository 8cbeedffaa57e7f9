/**
 * The --udp flag that `serve` and the client commands share, in a module of its own so that `serve` does
 * not load the client commands' modules (and the client) for it.
 * @module
 */
import type { UdpChoice } from "../transport/udp_choice.ts";
import { UsageError } from "./usage_error.ts";

/** The --udp flag's line of the usage texts. */
export const UDP_USAGE =
  "--udp auto|batched|deno (batched: recvmmsg/sendmmsg via FFI; default $COAP_UDP or auto)";

/** The --udp flag's value: which UDP transport (see udpTransportFor). */
export function udpFlag(value: string | undefined): UdpChoice | undefined {
  if (value === undefined || value === "auto" || value === "batched" || value === "deno") return value;
  throw new UsageError(`--udp ${value}: want one of auto, batched, deno`);
}
