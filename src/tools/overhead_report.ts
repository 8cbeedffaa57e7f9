/**
 * Everything `overhead` reports for one set of inputs: the messages, the
 * packets, bytes and energy per layer, and the assumptions in words.
 * @module
 */
import {
  coapPackets,
  energy,
  type EnergyFigures,
  type EnergyModel,
  type HeaderModel,
  IPV4_HEADER_BYTES,
  IPV6_HEADER_BYTES,
  type LayerBytes,
  layerBytes,
  LAYERS,
  type Packet,
  type Sender,
  TCP_HEADER_BYTES,
  tcpPackets,
  UDP_HEADER_BYTES,
} from "./overhead.ts";
import { coapExchange, EXAMPLE_MESSAGE_ID, type ExchangeInit, httpExchange } from "./overhead_messages.ts";
import type { RadioPreset } from "./radio_presets.ts";
import { bytesToHex } from "./hex.ts";

/** The inputs of one report, checked by the CLI. */
export interface OverheadInputs extends ExchangeInit {
  readonly ipVersion: 4 | 6;
  readonly device: Sender;
  readonly frameBytes: number;
  /** The `--radio` name and its preset; `energy` holds the figures actually used. */
  readonly radio: { readonly key: string; readonly preset: RadioPreset; readonly overridden: boolean };
  readonly energy: EnergyModel;
  /** Application bytes per reading given instead of our encoder's (the lab chapter's 24 and 97). */
  readonly coapBytesGiven?: number;
  readonly httpBytesGiven?: number;
}

/** One layer's energy figures with the device's sent/received split. */
export interface LayerFigures extends EnergyFigures {
  readonly sentBytes: number;
  readonly receivedBytes: number;
}

/** One packet with its size on the wire (application bytes plus every modelled header). */
export interface PacketRow extends Packet {
  readonly bytes: number;
}

/** The whole report; `--json` prints it as is. */
export interface OverheadReport {
  readonly uri: string;
  readonly ipVersion: 4 | 6;
  readonly device: Sender;
  readonly coap: {
    readonly requestHex: string;
    readonly responseHex: string;
    readonly requestBytes: number;
    readonly responseBytes: number;
    readonly applicationBytesGiven: number | null;
    readonly packets: PacketRow[];
  };
  readonly http: {
    readonly request: string;
    readonly response: string;
    readonly requestBytes: number;
    readonly responseBytes: number;
    readonly applicationBytesGiven: number | null;
    readonly packets: PacketRow[];
  };
  readonly headerBytes: {
    readonly udp: number;
    readonly tcp: number;
    readonly ip: number;
    readonly frame: number;
  };
  readonly radio: {
    readonly preset: string;
    readonly name: string;
    readonly bitrateBitPerS: number;
    readonly txCurrentMa: number;
    readonly rxCurrentMa: number | null;
  };
  readonly intervalS: number;
  readonly batteryMah: number;
  readonly sleepCurrentUa: number;
  readonly layers: Record<
    (typeof LAYERS)[number],
    { readonly coap: LayerFigures; readonly http: LayerFigures }
  >;
  readonly assumptions: string[];
}

/**
 * Builds the report: our encoder's CoAP messages, the HTTP texts, and per layer the bytes and their cost.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overheadReport } from "./overhead_report.ts";
 * import { RADIO_PRESETS } from "./radio_presets.ts";
 * const preset = RADIO_PRESETS["802.15.4"];
 * const report = overheadReport({
 *   uri: "coap://192.0.2.1/temperature",
 *   payload: "22.5",
 *   tokenLength: 4,
 *   ipVersion: 6,
 *   device: "server",
 *   frameBytes: 0,
 *   radio: { key: "802.15.4", preset, overridden: false },
 *   energy: {
 *     bitrate: preset.bitrate,
 *     txCurrentMa: preset.txCurrentMa,
 *     intervalS: 60,
 *     batteryMah: 225,
 *     sleepCurrentUa: 0,
 *   },
 * });
 * assert.equal(report.layers.application.coap.bytes, 34); // 20-byte request, 14-byte response
 * assert.equal(report.layers.application.http.bytes, 114);
 * ```
 */
export function overheadReport(inputs: OverheadInputs): OverheadReport {
  const coap = coapExchange(inputs);
  const http = httpExchange(inputs);
  const ipBytes = inputs.ipVersion === 6 ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES;
  const { frameBytes, device } = inputs;
  // A given total has no request/response split: it rides on the response, and the CLI then refuses an RX current.
  const coapList = inputs.coapBytesGiven === undefined
    ? coapPackets(coap.requestBytes.length, coap.responseBytes.length)
    : coapPackets(0, inputs.coapBytesGiven);
  const httpList = inputs.httpBytesGiven === undefined
    ? tcpPackets(http.requestBytes, http.responseBytes)
    : tcpPackets(0, inputs.httpBytesGiven);
  const coapModel: HeaderModel = { transportBytes: UDP_HEADER_BYTES, ipBytes, frameBytes, device };
  const httpModel: HeaderModel = { transportBytes: TCP_HEADER_BYTES, ipBytes, frameBytes, device };
  const coapLayers = layerBytes(coapList, coapModel);
  const httpLayers = layerBytes(httpList, httpModel);
  const layers = Object.fromEntries(LAYERS.map((layer) => [layer, {
    coap: figures(coapLayers, layer, inputs.energy),
    http: figures(httpLayers, layer, inputs.energy),
  }])) as OverheadReport["layers"];
  return {
    uri: inputs.uri,
    ipVersion: inputs.ipVersion,
    device,
    coap: {
      requestHex: bytesToHex(coap.requestBytes),
      responseHex: bytesToHex(coap.responseBytes),
      requestBytes: coap.requestBytes.length,
      responseBytes: coap.responseBytes.length,
      applicationBytesGiven: inputs.coapBytesGiven ?? null,
      packets: packetRows(coapList, coapModel),
    },
    http: {
      request: http.request,
      response: http.response,
      requestBytes: http.requestBytes,
      responseBytes: http.responseBytes,
      applicationBytesGiven: inputs.httpBytesGiven ?? null,
      packets: packetRows(httpList, httpModel),
    },
    headerBytes: { udp: UDP_HEADER_BYTES, tcp: TCP_HEADER_BYTES, ip: ipBytes, frame: frameBytes },
    radio: {
      preset: inputs.radio.key,
      name: inputs.radio.preset.name,
      bitrateBitPerS: inputs.energy.bitrate,
      txCurrentMa: inputs.energy.txCurrentMa,
      rxCurrentMa: inputs.energy.rxCurrentMa ?? null,
    },
    intervalS: inputs.energy.intervalS,
    batteryMah: inputs.energy.batteryMah,
    sleepCurrentUa: inputs.energy.sleepCurrentUa,
    layers,
    assumptions: assumptions(inputs, ipBytes),
  };
}

function figures(bytes: LayerBytes, layer: (typeof LAYERS)[number], model: EnergyModel): LayerFigures {
  const split = bytes[layer];
  return { sentBytes: split.sent, receivedBytes: split.received, ...energy(split, model) };
}

function packetRows(packets: readonly Packet[], model: HeaderModel): PacketRow[] {
  return packets.map((packet) => ({
    ...packet,
    bytes: packet.applicationBytes + model.transportBytes + model.ipBytes + model.frameBytes,
  }));
}

function assumptions(inputs: OverheadInputs, ipBytes: number): string[] {
  const m = inputs.energy;
  const { preset, key, overridden } = inputs.radio;
  const lines = [
    `CoAP: CON GET with a ${inputs.tokenLength}-byte token and Message ID 0x${
      EXAMPLE_MESSAGE_ID.toString(16)
    }, ` +
    "answered in its ACK (piggybacked 2.05 Content, RFC 7252 §5.2.1); Content-Format 0 (text/plain) is an " +
    "empty option; an IP-literal host is not sent as Uri-Host; 2 datagrams, no retransmission",
    "HTTP/1.1: request line + Host; response status line + Content-Type: text/plain + Content-Length + body; " +
    "nothing else (no Connection: close, Date, Server, User-Agent or charset)",
    `UDP header ${UDP_HEADER_BYTES} bytes; TCP header ${TCP_HEADER_BYTES} bytes with no options ` +
    "(real stacks add MSS, window scale, SACK and timestamps: 12-20 bytes more per segment)",
    "TCP, a new connection per reading, 11 segments: SYN, SYN-ACK, ACK; request, its own ACK; response, its " +
    "own ACK; the client closes: FIN, ACK, FIN, ACK (no ACK piggybacked on data, no FIN on the response)",
    `IPv${inputs.ipVersion} header ${ipBytes} bytes, no options or extension headers` +
    (inputs.ipVersion === 6 ? ", no 6LoWPAN compression" : ""),
    inputs.frameBytes === 0
      ? "link-layer and PHY framing not modelled (--frame-bytes N adds N bytes per packet)"
      : `link-layer and PHY framing: ${inputs.frameBytes} bytes per packet`,
    overridden
      ? `radio figures given by --bitrate/--tx-current-ma (the ${key} preset: ${preset.note})`
      : `radio ${key}: ${preset.note}`,
    `airtime = bytes × 8 / ${m.bitrate} bit/s; charge = airtime × current, in µAh = mA × ms / 3600`,
    m.rxCurrentMa === undefined
      ? `the device (the ${inputs.device}) is charged ${m.txCurrentMa} mA for every byte on air, sent or ` +
        "received, as the lab chapter does; idle listening not modelled"
      : `the device (the ${inputs.device}) is charged ${m.txCurrentMa} mA for bytes it sends and ` +
        `${m.rxCurrentMa} mA for bytes it receives; idle listening not modelled`,
    `one reading every ${m.intervalS} s; sleep current ${m.sleepCurrentUa} µA drawn all day` +
    (m.sleepCurrentUa === 0 ? " (0: battery life counts the radio alone, an upper bound)" : ""),
    `battery ${m.batteryMah} mAh nominal: no self-discharge, temperature or pulse-load derating`,
  ];
  if (inputs.coapBytesGiven !== undefined) {
    lines.push(`CoAP application bytes given: ${inputs.coapBytesGiven} per reading, not our encoder's`);
  }
  if (inputs.httpBytesGiven !== undefined) {
    lines.push(`HTTP application bytes given: ${inputs.httpBytesGiven} per reading, not our texts'`);
  }
  return lines;
}
