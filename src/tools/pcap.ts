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
import { formatIp, parseIp, type UdpDatagram, udpPacket } from "./ip_udp.ts";

/** https://www.tcpdump.org/linktypes.html: raw IP, no link-layer header. */
export const LINKTYPE_RAW = 101;
const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
const SNAPLEN = 262144;
const RECORD_HEADER = 16;

/**
 * The 24-byte global header of a pcap file (little-endian, microsecond timestamps, LINKTYPE_RAW).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pcapFileHeader } from "./pcap.ts";
 * const header = pcapFileHeader();
 * assert.equal(header.length, 24);
 * assert.equal(new DataView(header.buffer).getUint32(0, true), 0xa1b2c3d4); // microsecond timestamps
 * ```
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
export interface CapturedDatagram extends UdpDatagram {
  /** Wall-clock time, ms since the Unix epoch (fractions kept to the microsecond). */
  time: number;
}

/**
 * One pcap record: record header, IP header, UDP header, payload.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hexToBytes } from "./hex.ts";
 * import { pcapRecord } from "./pcap.ts";
 * const record = pcapRecord({
 *   time: Date.now(),
 *   source: { hostname: "127.0.0.1", port: 40000 },
 *   destination: { hostname: "127.0.0.1", port: 5683 },
 *   payload: hexToBytes("40011234"),
 * });
 * assert.equal(record.length, 16 + 20 + 8 + 4); // record header, IPv4, UDP, the CoAP message
 * ```
 */
export function pcapRecord(datagram: CapturedDatagram): Uint8Array {
  const packet = udpPacket(datagram);
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
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * import { PcapCapture, pcapFileHeader } from "./pcap.ts";
 * const capture = new PcapCapture();
 * const file: Uint8Array[] = [pcapFileHeader()];
 * const server = new CoapServer(new Site().add("temperature", { get: () => "22.5" }), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const client = new CoapClient({
 *   // The real clock counts from performance.timeOrigin; a pcap wants wall-clock time.
 *   onTrace: (event) => file.push(capture.record(event, performance.timeOrigin + event.at)),
 * });
 * await client.get(`coap://127.0.0.1:${server.address.port}/temperature`);
 * client.close();
 * server.close();
 * assert.equal(file.length, 3); // the file header, the request, the response
 * ```
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
