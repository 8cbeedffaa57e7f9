/**
 * Classic pcap files (the libpcap format Wireshark and tshark read) of the
 * datagrams an endpoint sends and receives, wrapped in IPv4 or IPv6 and UDP
 * headers with correct checksums. Pure: it builds bytes, the caller writes them.
 *
 * Link type: LINKTYPE_RAW (101), so each record starts with the IP header and
 * its version nibble says IPv4 or IPv6. Ethernet would need invented MAC
 * addresses and NULL/loopback a platform-dependent family number; RAW says
 * exactly what we know (two IP addresses, two ports) and lets one file hold
 * both families.
 * @module
 */
import type { TraceEvent } from "../endpoint/trace.ts";
import type { Address } from "../transport/transport.ts";

/** https://www.tcpdump.org/linktypes.html: raw IP, no link-layer header. */
export const LINKTYPE_RAW = 101;
const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
const SNAPLEN = 262144;
const UDP = 17;
const TTL = 64;
const IPV4_HEADER = 20;
const IPV6_HEADER = 40;
const UDP_HEADER = 8;
const RECORD_HEADER = 16;

/**
 * The 24-byte global header of a pcap file (little-endian, microsecond timestamps, LINKTYPE_RAW).
 * @example Deno.writeFileSync("capture.pcap", pcapFileHeader());
 */
export function pcapFileHeader(): Uint8Array {
  const header = new Uint8Array(24);
  const view = new DataView(header.buffer);
  view.setUint32(0, PCAP_MAGIC_MICROSECONDS, true);
  view.setUint16(4, 2, true); // version 2.4
  view.setUint16(6, 4, true);
  // Bytes 8-15: time zone offset and timestamp accuracy, both 0 by convention.
  view.setUint32(16, SNAPLEN, true);
  view.setUint32(20, LINKTYPE_RAW, true);
  return header;
}

/** One UDP datagram to capture. */
export interface CapturedDatagram {
  /** Wall-clock time, ms since the Unix epoch (fractions kept to the microsecond). */
  time: number;
  source: Address;
  destination: Address;
  payload: Uint8Array;
  /** IPv4 Identification field; successive packets should differ. */
  ipId?: number;
}

/**
 * One pcap record: record header, IP header, UDP header, payload.
 * @example pcapRecord({ time: Date.now(), source: a, destination: b, payload: bytes })
 */
export function pcapRecord(datagram: CapturedDatagram): Uint8Array {
  const packet = ipPacket(datagram);
  const record = new Uint8Array(RECORD_HEADER + packet.length);
  const view = new DataView(record.buffer);
  const micros = Math.round(datagram.time * 1000);
  view.setUint32(0, Math.floor(micros / 1e6), true);
  view.setUint32(4, micros % 1e6, true);
  view.setUint32(8, packet.length, true);
  view.setUint32(12, packet.length, true);
  record.set(packet, RECORD_HEADER);
  return record;
}

/**
 * Turns trace events into pcap records: the local address is the transport's,
 * and a wildcard one ("0.0.0.0", "::") becomes the loopback address when the
 * peer is on loopback, since that is the source the kernel used (for other
 * peers the real source address is not known to a socket bound to the wildcard).
 * @example
 * const capture = new PcapCapture();
 * file.writeSync(pcapFileHeader());
 * endpointOptions.onTrace = (event) => file.writeSync(capture.record(event, performance.timeOrigin + event.at));
 */
export class PcapCapture {
  #ipId = 0;

  /** The record for one traced datagram, stamped `time` (ms since the epoch). */
  record(event: TraceEvent, time: number): Uint8Array {
    const [local, peer] = endpointsFor(event.local, event.peer);
    this.#ipId = (this.#ipId + 1) & 0xffff;
    const out = event.direction === "out";
    return pcapRecord({
      time,
      source: out ? local : peer,
      destination: out ? peer : local,
      payload: event.bytes,
      ipId: this.#ipId,
    });
  }
}

/** Local and peer address in one family, wildcards and IPv4-mapped IPv6 resolved. */
function endpointsFor(local: Address, peer: Address): [Address, Address] {
  const peerBytes = parseIp(peer.hostname);
  const mapped = peerBytes.length === 16 ? ipv4Mapped(peerBytes) : undefined;
  const peerIp = mapped ?? peerBytes;
  let localIp = parseIp(local.hostname);
  const localMapped = localIp.length === 16 ? ipv4Mapped(localIp) : undefined;
  if (localMapped) localIp = localMapped;
  if (localIp.every((byte) => byte === 0) || localIp.length !== peerIp.length) {
    localIp = isLoopback(peerIp) ? peerIp.slice() : new Uint8Array(peerIp.length);
  }
  return [
    { hostname: formatIp(localIp), port: local.port },
    { hostname: formatIp(peerIp), port: peer.port },
  ];
}

function isLoopback(ip: Uint8Array): boolean {
  return ip.length === 4 ? ip[0] === 127 : ip.every((byte, i) => byte === (i === 15 ? 1 : 0));
}

function ipv4Mapped(ip: Uint8Array): Uint8Array | undefined {
  const prefix = ip.subarray(0, 12);
  const isMapped = prefix.every((byte, i) => byte === (i >= 10 ? 0xff : 0));
  return isMapped ? ip.slice(12) : undefined;
}

function formatIp(ip: Uint8Array): string {
  if (ip.length === 4) return ip.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return groups.join(":");
}

/**
 * An IPv4 ("192.0.2.1") or IPv6 ("2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0") address as 4 or 16 bytes.
 * @example parseIp("::1") // 15 zero bytes and a 1
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

/** The IP packet (header, UDP header, payload) carrying one datagram. */
function ipPacket({ source, destination, payload, ipId = 0 }: CapturedDatagram): Uint8Array {
  const sourceIp = parseIp(source.hostname);
  const destinationIp = parseIp(destination.hostname);
  if (sourceIp.length !== destinationIp.length) {
    throw new RangeError(
      `cannot capture ${source.hostname} → ${destination.hostname}: different IP families`,
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
 * The Internet checksum (RFC 1071) over the concatenation of `parts`: the ones'
 * complement of the ones'-complement sum of 16-bit big-endian words.
 * @example internetChecksum(ipv4Header) // 0 when the header's checksum field is already correct
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
