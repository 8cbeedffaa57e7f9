/** `overhead [URI]`: CoAP against HTTP/1.1 for one reading, in bytes per layer and in battery charge. */
import { LAYERS, type Sender } from "../tools/overhead.ts";
import { type OverheadInputs, type OverheadReport, overheadReport } from "../tools/overhead_report.ts";
import { formatAirtime, formatCharge, formatLife, formatNumber } from "../tools/overhead_format.ts";
import { RADIO_PRESETS } from "../tools/radio_presets.ts";
import { parseCoapUri } from "../client/uri.ts";
import { integerFlag } from "./flag_values.ts";
import { parseFlags } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";

/** Usage text of `overhead`. */
export const OVERHEAD_USAGE = `overhead [URI] [flags]
  Bytes, airtime and battery charge of one sensor reading: CoAP/UDP against HTTP/1.1/TCP.
    URI: coap://192.0.2.1/temperature by default (coap://[2001:db8::1]/temperature with --ip 6)
    --payload 22.5  --token-length 0-8 (4)  --ip 4|6  --device server|client (server: it answers)
    --radio ${Object.keys(RADIO_PRESETS).join("|")} (802.15.4)  --bitrate BIT/S
    --tx-current-ma MA  --rx-current-ma MA  --interval S (60)  --battery-mah MAH (225)
    --sleep-current-ua UA (0)  --frame-bytes N (link/PHY bytes a packet, 0)
    --coap-bytes N  --http-bytes N (application bytes given)  --verbose  --json
  example:
    overhead --radio lora --interval 300`;

const FLAGS = {
  payload: { type: "string", default: "22.5" },
  "token-length": { type: "string", default: "4" },
  ip: { type: "string" },
  device: { type: "string", default: "server" },
  radio: { type: "string", default: "802.15.4" },
  bitrate: { type: "string" },
  "tx-current-ma": { type: "string" },
  "rx-current-ma": { type: "string" },
  interval: { type: "string", default: "60" },
  "battery-mah": { type: "string", default: "225" },
  "sleep-current-ua": { type: "string", default: "0" },
  "frame-bytes": { type: "string", default: "0" },
  "coap-bytes": { type: "string" },
  "http-bytes": { type: "string" },
  verbose: { type: "boolean", short: "v" },
  json: { type: "boolean" },
} as const;

/** Largest byte count accepted for --coap-bytes, --http-bytes and --frame-bytes. */
const MAX_BYTES = 1_000_000;

/** A finite number > 0 (or ≥ 0 when zero is allowed), else a UsageError naming the flag. */
function quantity(flag: string, text: string, allowZero = false): number {
  const value = Number(text);
  const ok = text.trim() !== "" && Number.isFinite(value) && (value > 0 || (allowZero && value === 0));
  if (!ok) {
    throw new UsageError(`--${flag} ${text}: expected a ${allowZero ? "non-negative" : "positive"} number`);
  }
  return value;
}

function coapHost(uri: string): string {
  try {
    return parseCoapUri(uri).host;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function inputsFromFlags(args: string[]): { inputs: OverheadInputs; json: boolean; verbose: boolean } {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument "${positionals[1]}"\nusage: ${OVERHEAD_USAGE}`);
  }
  if (values.ip !== undefined && values.ip !== "4" && values.ip !== "6") {
    throw new UsageError(`--ip ${values.ip}: expected 4 or 6`);
  }
  const given = positionals[0];
  // An IPv6 literal in the URI decides the IP version; contradicting it is a mistake.
  const literalV6 = given !== undefined && coapHost(given).includes(":");
  if (literalV6 && values.ip === "4") throw new UsageError(`--ip 4 contradicts the IPv6 address in ${given}`);
  const ipVersion = values.ip === "6" || literalV6 ? 6 : 4;
  const uri = given ??
    (ipVersion === 6 ? "coap://[2001:db8::1]/temperature" : "coap://192.0.2.1/temperature");
  if (values.device !== "server" && values.device !== "client") {
    throw new UsageError(`--device ${values.device}: expected server or client`);
  }
  const preset = RADIO_PRESETS[values.radio];
  if (!preset) {
    throw new UsageError(`--radio ${values.radio}: expected one of ${Object.keys(RADIO_PRESETS).join(", ")}`);
  }
  const optionalBytes = (flag: "coap-bytes" | "http-bytes") =>
    values[flag] === undefined ? undefined : integerFlag(flag, values[flag], MAX_BYTES);
  const coapBytesGiven = optionalBytes("coap-bytes");
  const httpBytesGiven = optionalBytes("http-bytes");
  if (
    (coapBytesGiven !== undefined || httpBytesGiven !== undefined) && values["rx-current-ma"] !== undefined
  ) {
    throw new UsageError(
      "--rx-current-ma needs each direction's bytes; --coap-bytes/--http-bytes give only a total",
    );
  }
  const optionalQuantity = (flag: "bitrate" | "tx-current-ma" | "rx-current-ma") =>
    values[flag] === undefined ? undefined : quantity(flag, values[flag]);
  const bitrate = optionalQuantity("bitrate");
  const txCurrentMa = optionalQuantity("tx-current-ma");
  const inputs: OverheadInputs = {
    uri,
    payload: values.payload,
    tokenLength: integerFlag("token-length", values["token-length"], 8),
    ipVersion,
    device: values.device as Sender,
    frameBytes: integerFlag("frame-bytes", values["frame-bytes"], MAX_BYTES),
    radio: { key: values.radio, preset, overridden: bitrate !== undefined || txCurrentMa !== undefined },
    energy: {
      bitrate: bitrate ?? preset.bitrate,
      txCurrentMa: txCurrentMa ?? preset.txCurrentMa,
      rxCurrentMa: optionalQuantity("rx-current-ma"),
      intervalS: quantity("interval", values.interval),
      batteryMah: quantity("battery-mah", values["battery-mah"]),
      sleepCurrentUa: quantity("sleep-current-ua", values["sleep-current-ua"], true),
    },
    coapBytesGiven,
    httpBytesGiven,
  };
  return { inputs, json: Boolean(values.json), verbose: Boolean(values.verbose) };
}

/** Runs `overhead`; returns the exit code. */
export function overheadCommand(args: string[]): number {
  const { inputs, json, verbose } = inputsFromFlags(args);
  // An oversized --payload makes the encoder throw CoapFormatError, which main.ts reports with exit code 2.
  const report = overheadReport(inputs);
  console.log(json ? JSON.stringify(report, null, 2) : renderText(report, verbose));
  return 0;
}

const LAYER_LABELS: Record<(typeof LAYERS)[number], string> = {
  application: "application layer (the messages)",
  transport: "+ UDP 8 / TCP 20 per data packet",
  ip: "+ IP header per data packet",
  exchange: "+ TCP handshake, data ACKs, teardown",
  link: "+ link/PHY bytes on every packet",
};

function table(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))
      .join("  ")
      .trimEnd()
  ).join("\n");
}

function renderText(report: OverheadReport, verbose: boolean): string {
  const shown = LAYERS.filter((layer) => layer !== "link" || report.headerBytes.frame > 0);
  const label = (layer: (typeof LAYERS)[number]) =>
    layer === "ip"
      ? `+ IPv${report.ipVersion} header ${report.headerBytes.ip} per data packet`
      : LAYER_LABELS[layer];
  const bytesTable = table([
    ["bytes per reading (request + response)", "CoAP", "HTTP", "HTTP/CoAP"],
    ...shown.map((layer) => {
      const { coap, http } = report.layers[layer];
      return [
        label(layer),
        String(coap.bytes),
        String(http.bytes),
        `${formatNumber(http.bytes / coap.bytes)}×`,
      ];
    }),
    ["packets", String(report.coap.packets.length), String(report.http.packets.length), ""],
  ]);
  const energyTable = table([
    ["layer", "", "bytes", "airtime", "charge/reading", "charge/day", "battery life"],
    ...shown.flatMap((layer) =>
      (["coap", "http"] as const).map((protocol) => {
        const f = report.layers[layer][protocol];
        return [
          protocol === "coap" ? layer : "",
          protocol === "coap" ? "CoAP" : "HTTP",
          String(f.bytes),
          formatAirtime(f.airtimeMs),
          formatCharge(f.chargePerReadingUAh),
          formatCharge(f.chargePerDayUAh),
          formatLife(f.batteryLifeDays, f.batteryLifeYears),
        ];
      })
    ),
  ]);
  const r = report.radio;
  const parts = [
    `GET ${report.uri} → 2.05 Content, over IPv${report.ipVersion}`,
    "",
    bytesTable,
    "",
    `${r.name}: ${r.bitrateBitPerS} bit/s, TX ${r.txCurrentMa} mA${
      r.rxCurrentMa === null ? "" : `, RX ${r.rxCurrentMa} mA`
    }; ` +
    `a reading every ${report.intervalS} s; ${report.batteryMah} mAh; sleep ${report.sleepCurrentUa} µA`,
    energyTable,
  ];
  if (verbose) {
    parts.push(
      "",
      `CoAP request  (${report.coap.requestBytes} bytes): ${report.coap.requestHex}`,
      `CoAP response (${report.coap.responseBytes} bytes): ${report.coap.responseHex}`,
      `HTTP request  (${report.http.requestBytes} bytes): ${JSON.stringify(report.http.request)}`,
      `HTTP response (${report.http.responseBytes} bytes): ${JSON.stringify(report.http.response)}`,
      "",
      "HTTP/TCP segments (bytes with TCP and IP headers):",
      ...report.http.packets.map((p) => `  ${p.from.padEnd(6)}  ${p.label.padEnd(26)}  ${p.bytes}`),
    );
  }
  parts.push("", "assumptions:", ...report.assumptions.map((line) => `  - ${line}`));
  return parts.join("\n");
}
