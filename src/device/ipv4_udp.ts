/**
 * UDP in IPv4 packets, as they cross the device's slipmux link: the bridge
 * wraps each datagram from a host peer with that peer's address, and unwraps
 * the device's packets to find where they go.
 * @module
 */

const IPV4_HEADER = 20;
const UDP_HEADER = 8;
const PROTOCOL_UDP = 17;
/** The address the device gives itself on the link (firmware/ipv4_udp.h). */
export const DEVICE_IPV4 = "10.0.2.15";
/** The device's CoAP port on the link. */
export const DEVICE_PORT = 5683;

/** An IPv4 address and UDP port. */
export interface UdpEndpoint {
  ip: string;
  port: number;
}

function ipBytes(ip: string): number[] {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new RangeError(`not an IPv4 address: ${ip}`);
  }
  return parts;
}

/** RFC 791 header checksum: one's complement of the one's-complement sum of 16-bit words. */
export function ipv4Checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 packet carrying `payload` from `source` to `destination` (UDP checksum 0: none, as IPv4 allows). */
export function wrapUdp(source: UdpEndpoint, destination: UdpEndpoint, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(IPV4_HEADER + UDP_HEADER + payload.length);
  const view = new DataView(packet.buffer);
  packet[0] = 0x45;
  view.setUint16(2, packet.length);
  packet[8] = 64;
  packet[9] = PROTOCOL_UDP;
  packet.set(ipBytes(source.ip), 12);
  packet.set(ipBytes(destination.ip), 16);
  view.setUint16(10, ipv4Checksum(packet.subarray(0, IPV4_HEADER)));
  view.setUint16(IPV4_HEADER, source.port);
  view.setUint16(IPV4_HEADER + 2, destination.port);
  view.setUint16(IPV4_HEADER + 4, UDP_HEADER + payload.length);
  packet.set(payload, IPV4_HEADER + UDP_HEADER);
  return packet;
}

/** The UDP datagram inside an IPv4 packet, or a reason it is not one. */
export function unwrapUdp(
  packet: Uint8Array,
): { source: UdpEndpoint; destination: UdpEndpoint; payload: Uint8Array } | { error: string } {
  if (packet.length < IPV4_HEADER || packet[0] >> 4 !== 4) return { error: "not an IPv4 packet" };
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const headerLength = (packet[0] & 0x0f) * 4;
  const total = view.getUint16(2);
  if (headerLength < IPV4_HEADER || total > packet.length || total < headerLength + UDP_HEADER) {
    return { error: "IPv4 lengths inconsistent" };
  }
  if (ipv4Checksum(packet.subarray(0, headerLength)) !== 0) return { error: "IPv4 header checksum wrong" };
  if (packet[9] !== PROTOCOL_UDP) return { error: `IP protocol ${packet[9]} is not UDP` };
  const udpLength = view.getUint16(headerLength + 4);
  if (udpLength < UDP_HEADER || udpLength > total - headerLength) return { error: "UDP length inconsistent" };
  const ip = (at: number) => Array.from(packet.subarray(at, at + 4)).join(".");
  return {
    source: { ip: ip(12), port: view.getUint16(headerLength) },
    destination: { ip: ip(16), port: view.getUint16(headerLength + 2) },
    payload: packet.slice(headerLength + UDP_HEADER, headerLength + udpLength),
  };
}
