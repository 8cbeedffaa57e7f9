/**
 * CoAP-over-UDP against HTTP/1.1-over-TCP for one reading: the bytes each
 * layer adds, and what they cost a battery at a given radio. Pure arithmetic;
 * the messages themselves come from `overhead_messages.ts`.
 * @module
 */

/** UDP header (RFC 768). */
export const UDP_HEADER_BYTES = 8;
/** TCP header without options (RFC 9293 §3.1); real stacks usually add MSS, SACK, timestamps. */
export const TCP_HEADER_BYTES = 20;
/** IPv4 header without options (RFC 791). */
export const IPV4_HEADER_BYTES = 20;
/** IPv6 fixed header, no extension headers (RFC 8200). */
export const IPV6_HEADER_BYTES = 40;

const SECONDS_PER_DAY = 86_400;
const DAYS_PER_YEAR = 365.25;
/** 1 µAh = 3600 µA·s = 3600 mA·ms, so mA × ms / 3600 is µAh. */
const MA_MS_PER_UAH = 3_600;

/** Which end of the exchange sent a packet. */
export type Sender = "client" | "server";

/** One IP packet of an exchange. */
export interface Packet {
  readonly label: string;
  readonly from: Sender;
  /** Application bytes carried. */
  readonly applicationBytes: number;
  /** False for TCP's control segments (handshake, pure ACKs, FINs). */
  readonly data: boolean;
}

/**
 * The CoAP exchange: a CON request and the ACK that carries the response (piggybacked, RFC 7252 §5.2.1).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coapPackets } from "./overhead.ts";
 * assert.deepEqual(coapPackets(20, 14).map((packet) => packet.from), ["client", "server"]);
 * ```
 */
export function coapPackets(requestBytes: number, responseBytes: number): Packet[] {
  return [
    { label: "CON GET request", from: "client", applicationBytes: requestBytes, data: true },
    {
      label: "ACK with the 2.05 response (piggybacked)",
      from: "server",
      applicationBytes: responseBytes,
      data: true,
    },
  ];
}

/**
 * A one-shot HTTP exchange on a fresh TCP connection, as 11 segments: 3-way handshake; the request and a
 * pure ACK for it; the response and a pure ACK for it; the client closes first, and each FIN is acknowledged
 * on its own (FIN, ACK, FIN, ACK). No ACK is piggybacked on data and no FIN on the response.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tcpPackets } from "./overhead.ts";
 * const packets = tcpPackets(45, 68);
 * assert.equal(packets.length, 11);
 * assert.equal(packets.filter((packet) => packet.data).length, 2); // the request and the response
 * ```
 */
export function tcpPackets(requestBytes: number, responseBytes: number): Packet[] {
  return [
    { label: "SYN", from: "client", applicationBytes: 0, data: false },
    { label: "SYN-ACK", from: "server", applicationBytes: 0, data: false },
    { label: "ACK (handshake)", from: "client", applicationBytes: 0, data: false },
    { label: "HTTP request", from: "client", applicationBytes: requestBytes, data: true },
    { label: "ACK of the request", from: "server", applicationBytes: 0, data: false },
    { label: "HTTP response", from: "server", applicationBytes: responseBytes, data: true },
    { label: "ACK of the response", from: "client", applicationBytes: 0, data: false },
    { label: "FIN (client closes)", from: "client", applicationBytes: 0, data: false },
    { label: "ACK of the client's FIN", from: "server", applicationBytes: 0, data: false },
    { label: "FIN (server)", from: "server", applicationBytes: 0, data: false },
    { label: "ACK of the server's FIN", from: "client", applicationBytes: 0, data: false },
  ];
}

/** Bytes of one exchange from the battery device's point of view. */
export interface DeviceBytes {
  readonly sent: number;
  readonly received: number;
}

/** How headers are added to the packets of one protocol. */
export interface HeaderModel {
  /** UDP or TCP header per packet. */
  readonly transportBytes: number;
  /** IPv4 or IPv6 header per packet. */
  readonly ipBytes: number;
  /** Link-layer and PHY bytes per packet (0: not modelled). */
  readonly frameBytes: number;
  /** The device's role: the server answers the GET (the lab's sensor), the client asks. */
  readonly device: Sender;
}

/** Cumulative bytes at each layer, each a superset of the one before. */
export interface LayerBytes {
  /** The CoAP or HTTP messages alone. */
  readonly application: DeviceBytes;
  /** + UDP/TCP header on the packets that carry data. */
  readonly transport: DeviceBytes;
  /** + IP header on those packets. */
  readonly ip: DeviceBytes;
  /** + every other packet (TCP handshake, ACKs, teardown), with its TCP and IP headers. */
  readonly exchange: DeviceBytes;
  /** + per-packet link/PHY bytes on every packet. */
  readonly link: DeviceBytes;
}

/** The layers a LayerBytes has, in order. */
export const LAYERS = ["application", "transport", "ip", "exchange", "link"] as const;

/**
 * Adds each layer's headers to a packet list and splits the bytes into sent and received by the device.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coapPackets, layerBytes } from "./overhead.ts";
 * const layers = layerBytes(coapPackets(20, 14), {
 *   transportBytes: 8,
 *   ipBytes: 20,
 *   frameBytes: 0,
 *   device: "server",
 * });
 * assert.deepEqual(layers.application, { sent: 14, received: 20 });
 * assert.deepEqual(layers.ip, { sent: 14 + 28, received: 20 + 28 }); // + UDP and IPv4 headers
 * ```
 */
export function layerBytes(packets: readonly Packet[], model: HeaderModel): LayerBytes {
  const sum = (perPacket: (packet: Packet) => number): DeviceBytes => {
    let sent = 0, received = 0;
    for (const packet of packets) {
      if (packet.from === model.device) sent += perPacket(packet);
      else received += perPacket(packet);
    }
    return { sent, received };
  };
  const headers = model.transportBytes + model.ipBytes;
  return {
    application: sum((p) => p.applicationBytes),
    transport: sum((p) => p.applicationBytes + (p.data ? model.transportBytes : 0)),
    ip: sum((p) => p.applicationBytes + (p.data ? headers : 0)),
    exchange: sum((p) => p.applicationBytes + headers),
    link: sum((p) => p.applicationBytes + headers + model.frameBytes),
  };
}

/** The radio, the battery and the duty cycle. */
export interface EnergyModel {
  /** bit/s on air. */
  readonly bitrate: number;
  readonly txCurrentMa: number;
  /** Charged for received bytes; when absent they are charged at the TX current, as the lab chapter does. */
  readonly rxCurrentMa?: number;
  /** Seconds between readings. */
  readonly intervalS: number;
  readonly batteryMah: number;
  /** Drawn all day, radio-on time included (the difference is below the airtime's share of a day). */
  readonly sleepCurrentUa: number;
}

/** What one exchange costs, every figure with its unit in its name. */
export interface EnergyFigures {
  readonly bytes: number;
  readonly airtimeMs: number;
  readonly chargePerReadingUAh: number;
  readonly readingsPerDay: number;
  /** Radio charge per day plus the sleep current's. */
  readonly chargePerDayUAh: number;
  readonly batteryLifeDays: number;
  readonly batteryLifeYears: number;
}

/**
 * Airtime, charge per reading and per day, and battery life for one exchange's bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { energy } from "./overhead.ts";
 * const figures = energy({ sent: 24, received: 0 }, {
 *   bitrate: 250_000,
 *   txCurrentMa: 20,
 *   intervalS: 60,
 *   batteryMah: 225,
 *   sleepCurrentUa: 0,
 * });
 * assert.equal(figures.airtimeMs, 0.768); // 24 bytes × 8 bits at 250 kbit/s
 * assert.equal(figures.readingsPerDay, 1440);
 * ```
 */
export function energy(bytes: DeviceBytes, model: EnergyModel): EnergyFigures {
  const msPerByte = 8 / model.bitrate * 1000;
  const sentMs = bytes.sent * msPerByte;
  const receivedMs = bytes.received * msPerByte;
  const chargePerReadingUAh =
    (sentMs * model.txCurrentMa + receivedMs * (model.rxCurrentMa ?? model.txCurrentMa)) /
    MA_MS_PER_UAH;
  const readingsPerDay = SECONDS_PER_DAY / model.intervalS;
  // µA × 24 h = µAh per day.
  const chargePerDayUAh = chargePerReadingUAh * readingsPerDay + model.sleepCurrentUa * 24;
  const batteryLifeDays = model.batteryMah * 1000 / chargePerDayUAh;
  return {
    bytes: bytes.sent + bytes.received,
    airtimeMs: sentMs + receivedMs,
    chargePerReadingUAh,
    readingsPerDay,
    chargePerDayUAh,
    batteryLifeDays,
    batteryLifeYears: batteryLifeDays / DAYS_PER_YEAR,
  };
}
