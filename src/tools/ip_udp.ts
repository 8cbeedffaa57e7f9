/**
 * IP addresses and UDP datagrams wrapped in IPv4 or IPv6 packets with correct
 * checksums: what a capture file records, and what crosses the device's
 * serial link. Pure: it builds and parses bytes.
 * @module
 */
import type { Address } from "../transport/transport.ts";

const UDP = 17;
const TTL = 64;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const UDP_HEADER = 8;

/** One UDP datagram between two addresses of the same IP family. */
export interface UdpDatagram {
  source: Address;
  destination: Address;
  payload: Uint8Array;
  /** IPv4 Identification field; successive packets should differ. */
  ipId?: number;
}

/**
 * The IPv4 or IPv6 packet (IP header, UDP header, payload) carrying one datagram, both checksums computed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hexToBytes } from "./hex.ts";
 * import { internetChecksum, udpPacket } from "./ip_udp.ts";
 * const packet = udpPacket({
 *   source: { hostname: "127.0.0.1", port: 40000 },
 *   destination: { hostname: "127.0.0.1", port: 5683 },
 *   payload: hexToBytes("40011234"),
 * });
 * assert.equal(packet.length, 20 + 8 + 4); // IPv4 header, UDP header, the CoAP message
 * assert.equal(internetChecksum(packet.subarray(0, 20)), 0); // the header's checksum is right
 * ```
 */
export function udpPacket({ source, destination, payload, ipId = 0 }: UdpDatagram): Uint8Array {
  const sourceIp = parseIp(source.hostname);
  const destinationIp = parseIp(destination.hostname);
  if (sourceIp.length !== destinationIp.length) {
    throw new RangeError(
      `no packet from ${source.hostname} to ${destination.hostname}: different IP families`,
    );
  }
  const udpLength = UDP_HEADER + payload.length;
  const v4 = sourceIp.length === 4;
  const ipHeader = v4 ? IPV4_HEADER : IPV6_HEADER;
  if (ipHeader + udpLength > 0xffff + (v4 ? 0 : IPV6_HEADER)) {
    throw new RangeError(`datagram of ${payload.length} bytes does not fit one IP packet`);
  }
  const packet = new Uint8Array(ipHeader + udpLength);
  const view = new DataView(packet.buffer);
  if (v4) {
    view.setUint8(0, 0x45); // version 4, header of 5 32-bit words
    view.setUint16(2, packet.length);
    view.setUint16(4, ipId);
    view.setUint16(6, 0x4000); // Don't Fragment: a CoAP datagram is never fragmented here
    view.setUint8(8, TTL);
    view.setUint8(9, UDP);
    packet.set(sourceIp, 12);
    packet.set(destinationIp, 16);
    view.setUint16(10, internetChecksum(packet.subarray(0, IPV4_HEADER)));
  } else {
    view.setUint32(0, 0x60000000); // version 6, traffic class 0, flow label 0
    view.setUint16(4, udpLength);
    view.setUint8(6, UDP);
    view.setUint8(7, TTL);
    packet.set(sourceIp, 8);
    packet.set(destinationIp, 24);
  }
  const udp = packet.subarray(ipHeader);
  const udpView = new DataView(udp.buffer, udp.byteOffset);
  udpView.setUint16(0, source.port);
  udpView.setUint16(2, destination.port);
  udpView.setUint16(4, udpLength);
  udp.set(payload, UDP_HEADER);
  // RFC 768 / RFC 8200 §8.1: the UDP checksum covers a pseudo-header of addresses, protocol and length.
  const pseudo = new Uint8Array(2 * sourceIp.length + 4);
  pseudo.set(sourceIp, 0);
  pseudo.set(destinationIp, sourceIp.length);
  new DataView(pseudo.buffer).setUint16(pseudo.length - 4, UDP);
  new DataView(pseudo.buffer).setUint16(pseudo.length - 2, udpLength);
  const checksum = internetChecksum(pseudo, udp);
  // RFC 768: a computed 0 is sent as all ones; 0 would mean "no checksum".
  udpView.setUint16(6, checksum === 0 ? 0xffff : checksum);
  return packet;
}

/**
 * An IPv4 ("192.0.2.1") or IPv6 ("2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0") address as 4 or 16 bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIp } from "./ip_udp.ts";
 * assert.deepEqual(parseIp("192.0.2.1"), Uint8Array.of(192, 0, 2, 1));
 * assert.deepEqual(parseIp("::1"), Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1));
 * ```
 */
export function parseIp(text: string): Uint8Array {
  const address = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!address.includes(":")) return parseIpv4(address, text);
  let tail = address;
  let v4: Uint8Array | undefined;
  const lastColon = address.lastIndexOf(":");
  if (address.slice(lastColon + 1).includes(".")) {
    v4 = parseIpv4(address.slice(lastColon + 1), text);
    tail = address.slice(0, lastColon + 1) + "0:0";
  }
  const halves = tail.split("::");
  if (halves.length > 2) throw new RangeError(`"${text}" is not an IP address (two "::")`);
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const rest = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) {
    throw new RangeError(`"${text}" is not an IP address (needs 8 groups)`);
  }
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) throw new RangeError(`"${text}" is not an IP address ("${group}")`);
    const value = parseInt(group, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  if (v4) bytes.set(v4, 12);
  return bytes;
}

function parseIpv4(address: string, text: string): Uint8Array {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) {
    throw new RangeError(`"${text}" is not an IP address`);
  }
  return Uint8Array.from(parts.map(Number));
}

/** 4 or 16 address bytes as text ("127.0.0.1", "0:0:0:0:0:0:0:1"). */
export function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return groups.join(":");
}

/**
 * The Internet checksum (RFC 1071) over the concatenation of `parts`: the ones'
 * complement of the ones'-complement sum of 16-bit big-endian words.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { internetChecksum } from "./ip_udp.ts";
 * // RFC 1071 §3's example: the words sum to 0xddf2, whose complement is the checksum.
 * assert.equal(
 *   internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03), Uint8Array.of(0xf4, 0xf5, 0xf6, 0xf7)),
 *   0x220d,
 * );
 * ```
 */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const part of parts) {
    for (const byte of part) {
      if (odd === undefined) {
        odd = byte;
      } else {
        sum += (odd << 8) | byte;
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
