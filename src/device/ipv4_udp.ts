/**
 * The device's side of the slipmux link: its address, and the UDP datagram
 * inside each IPv4 packet it sends (the bridge wraps packets for it with
 * tools/ip_udp.ts).
 * @module
 */
import { formatIp, internetChecksum } from "../tools/ip_udp.ts";
import type { Address } from "../transport/transport.ts";

const IPV4_HEADER = 20;
const UDP_HEADER = 8;
const PROTOCOL_UDP = 17;
/** The address the device gives itself on the link (firmware/ipv4_udp.h). */
export const DEVICE_IPV4 = "10.0.2.15";
/** The device's CoAP port on the link. */
export const DEVICE_PORT = 5683;

/** The UDP datagram inside an IPv4 packet, or a reason it is not one. */
export function unwrapUdp(
  packet: Uint8Array,
): { source: Address; destination: Address; payload: Uint8Array } | { error: string } {
  if (packet.length < IPV4_HEADER || packet[0] >> 4 !== 4) return { error: "not an IPv4 packet" };
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const headerLength = (packet[0] & 0x0f) * 4;
  const total = view.getUint16(2);
  if (headerLength < IPV4_HEADER || total > packet.length || total < headerLength + UDP_HEADER) {
    return { error: "IPv4 lengths inconsistent" };
  }
  if (internetChecksum(packet.subarray(0, headerLength)) !== 0) {
    return { error: "IPv4 header checksum wrong" };
  }
  if (packet[9] !== PROTOCOL_UDP) return { error: `IP protocol ${packet[9]} is not UDP` };
  const udpLength = view.getUint16(headerLength + 4);
  if (udpLength < UDP_HEADER || udpLength > total - headerLength) return { error: "UDP length inconsistent" };
  const ip = (at: number) => formatIp(packet.subarray(at, at + 4));
  return {
    source: { hostname: ip(12), port: view.getUint16(headerLength) },
    destination: { hostname: ip(16), port: view.getUint16(headerLength + 2) },
    payload: packet.slice(headerLength + UDP_HEADER, headerLength + udpLength),
  };
}
