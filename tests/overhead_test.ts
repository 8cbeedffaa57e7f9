// The overhead calculator: its arithmetic, its messages against our encoder, and the lab chapter's example.
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { resolveCoapUri } from "../src/client/uri.ts";
import { Code } from "../src/message/code.ts";
import { decode, encode } from "../src/message/codec.ts";
import { OptionNumber } from "../src/message/option.ts";
import { encodeString } from "../src/message/option_value.ts";
import { Type } from "../src/message/type.ts";
import { coapPackets, energy, type EnergyModel, layerBytes, tcpPackets } from "../src/tools/overhead.ts";
import { httpExchange } from "../src/tools/overhead_messages.ts";
import { formatAirtime, formatCharge, formatLife } from "../src/tools/overhead_format.ts";

/** Equal to 12 significant digits: the figures are products and quotients of exact inputs. */
function assertClose(actual: number, expected: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= Math.abs(expected) * 1e-12,
    `${what}: ${actual}, expected ${expected}`,
  );
}

async function overheadJson(args: string[]) {
  const { code, stdout, stderr } = await runCli(["overhead", "--json", ...args]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout);
}

const CHAPTER = ["--bitrate", "250000", "--tx-current-ma", "20", "--interval", "60", "--battery-mah", "225"];

Deno.test("the lab chapter's inputs (24 vs 97 bytes, 250 kbit/s, 20 mA, 1/min, 225 mAh) give nAh, not µAh", async () => {
  const report = await overheadJson(["--coap-bytes", "24", "--http-bytes", "97", ...CHAPTER]);
  const { coap, http } = report.layers.application;
  assert.equal(coap.bytes, 24);
  assert.equal(http.bytes, 97);
  // The chapter's airtimes are right: 24 × 8 / 250000 s and 97 × 8 / 250000 s.
  assertClose(coap.airtimeMs, 0.768, "CoAP airtime");
  assertClose(http.airtimeMs, 3.104, "HTTP airtime");
  // 0.768 ms × 20 mA = 15.36 mA·ms = 15.36 / 3600 µAh = 4.267 nAh; the chapter says 4.27 µAh.
  assertClose(coap.chargePerReadingUAh, 0.768 * 20 / 3600, "CoAP charge per reading");
  assertClose(http.chargePerReadingUAh, 3.104 * 20 / 3600, "HTTP charge per reading");
  assert.equal((coap.chargePerReadingUAh * 1000).toFixed(2), "4.27"); // the chapter's digits, in nAh
  assert.equal((http.chargePerReadingUAh * 1000).toFixed(2), "17.24");
  // 1440 readings a day: 6.144 µAh and 24.832 µAh (the chapter: 6,149 and 24,826 "µAh", from rounded factors).
  assert.equal(coap.readingsPerDay, 1440);
  assertClose(coap.chargePerDayUAh, 6.144, "CoAP charge per day");
  assertClose(http.chargePerDayUAh, 24.832, "HTTP charge per day");
  // 225 mAh lasts 36,621 days (100 years) and 9,061 days (24.8 years), not 36.6 and 9.1 days.
  assertClose(coap.batteryLifeDays, 225_000 / 6.144, "CoAP battery life");
  assertClose(http.batteryLifeDays, 225_000 / 24.832, "HTTP battery life");
  assert.equal(Math.round(coap.batteryLifeDays), 36_621);
  assert.equal(Math.round(http.batteryLifeDays), 9_061);
  assertClose(coap.batteryLifeYears, 225_000 / 6.144 / 365.25, "CoAP battery life in years");
  // The given bytes still get their packets' headers in the lower layers.
  assert.equal(report.layers.ip.coap.bytes, 24 + 2 * (8 + 20));
  assert.equal(report.layers.exchange.http.bytes, 97 + 11 * (20 + 20));
  assert.equal(report.coap.applicationBytesGiven, 24);
});

Deno.test("the chapter's example as text: the units are picked by magnitude and shown", async () => {
  const { code, stdout } = await runCli(["overhead", "--coap-bytes", "24", "--http-bytes", "97", ...CHAPTER]);
  assert.equal(code, 0);
  assert.match(
    stdout,
    /application\s+CoAP\s+24\s+0\.768 ms\s+4\.267 nAh\s+6\.144 µAh\s+100\.3 years \(36,621 days\)/,
  );
  assert.match(stdout, /HTTP\s+97\s+3\.104 ms\s+17\.24 nAh\s+24\.83 µAh\s+24\.81 years \(9,061 days\)/);
  assert.match(stdout, /CoAP application bytes given: 24 per reading/);
});

Deno.test("overhead --json reports our encoder's CoAP request and response", async () => {
  const report = await overheadJson([]);
  const target = await resolveCoapUri("coap://192.0.2.1/temperature"); // an IP literal: no DNS
  const token = Uint8Array.of(1, 2, 3, 4);
  const request = encode({
    type: Type.CON,
    code: Code.Get,
    messageId: 0xbeef,
    token,
    options: target.options,
    payload: new Uint8Array(0),
  });
  const response = encode({
    type: Type.ACK,
    code: Code.Content,
    messageId: 0xbeef,
    token,
    options: [{ number: OptionNumber.ContentFormat, value: new Uint8Array(0) }],
    payload: encodeString("22.5"),
  });
  assert.equal(report.coap.requestBytes, request.length);
  assert.equal(report.coap.responseBytes, response.length);
  assert.equal(report.layers.application.coap.bytes, request.length + response.length);
  const decoded = decode(
    Uint8Array.from(report.coap.responseHex.match(/../g), (byte: string) => parseInt(byte, 16)),
  );
  assert.equal(decoded.code, Code.Content);
  assert.equal(new TextDecoder().decode(decoded.payload), "22.5");
});

Deno.test("overhead with a host name, a query and an 8-byte token sizes the same messages encode builds", async () => {
  const report = await overheadJson(["coap://sensor.example/temperature?unit=c", "--token-length", "8"]);
  const request = encode({
    type: Type.CON,
    code: Code.Get,
    messageId: 1,
    token: new Uint8Array(8),
    options: [
      { number: OptionNumber.UriHost, value: encodeString("sensor.example") },
      { number: OptionNumber.UriPath, value: encodeString("temperature") },
      { number: OptionNumber.UriQuery, value: encodeString("unit=c") },
    ],
    payload: new Uint8Array(0),
  });
  assert.equal(report.coap.requestBytes, request.length);
  assert.equal(report.coap.responseBytes, 4 + 8 + 1 + 1 + 4);
  assert.equal(report.http.request, "GET /temperature?unit=c HTTP/1.1\r\nHost: sensor.example\r\n\r\n");
});

Deno.test("the HTTP texts count the request line and Host; the status line, Content-Type and Content-Length", () => {
  const http = httpExchange({ uri: "coap://192.0.2.1/temperature", payload: "22.5" });
  assert.equal(http.request, "GET /temperature HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n");
  assert.equal(http.response, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n22.5");
  assert.equal(http.requestBytes, 27 + 17 + 2);
  assert.equal(http.responseBytes, 17 + 26 + 19 + 2 + 4);
  assert.equal(
    httpExchange({ uri: "coap://[2001:db8::1]", payload: "°C" }).request,
    "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n",
  );
  assert.equal(httpExchange({ uri: "coap://h/t", payload: "°C" }).responseBytes, 17 + 26 + 19 + 2 + 3); // UTF-8 bytes
});

Deno.test("each layer adds its headers: UDP and IP on 2 datagrams, TCP and IP on 11 segments", () => {
  const model = { ipBytes: 40, frameBytes: 5, device: "server" as const };
  const coap = layerBytes(coapPackets(20, 14), { ...model, transportBytes: 8 });
  const http = layerBytes(tcpPackets(46, 68), { ...model, transportBytes: 20 });
  const total = (bytes: { sent: number; received: number }) => bytes.sent + bytes.received;
  assert.deepEqual(coap.application, { sent: 14, received: 20 }); // the server sends the response
  assert.equal(total(coap.transport), 34 + 2 * 8);
  assert.equal(total(coap.ip), 34 + 2 * 48);
  assert.equal(total(coap.exchange), total(coap.ip));
  assert.equal(total(coap.link), 34 + 2 * 53);
  assert.equal(total(http.transport), 114 + 2 * 20);
  assert.equal(total(http.ip), 114 + 2 * 60);
  assert.equal(total(http.exchange), 114 + 11 * 60);
  assert.equal(total(http.link), 114 + 11 * 65);
  // The server sends SYN-ACK, two ACKs, the response and a FIN: 5 segments.
  assert.equal(http.exchange.sent, 68 + 5 * 60);
  const client = layerBytes(tcpPackets(46, 68), { ...model, transportBytes: 20, device: "client" });
  assert.equal(client.exchange.sent, http.exchange.received);
});

const MODEL: EnergyModel = {
  bitrate: 250_000,
  txCurrentMa: 20,
  intervalS: 60,
  batteryMah: 225,
  sleepCurrentUa: 0,
};

Deno.test("dimensions: bit rate, current, interval, capacity and sleep current act as they should", () => {
  const bytes = { sent: 42, received: 48 };
  const base = energy(bytes, MODEL);
  const faster = energy(bytes, { ...MODEL, bitrate: 500_000 });
  assertClose(faster.airtimeMs, base.airtimeMs / 2, "airtime at twice the bit rate");
  assertClose(faster.chargePerReadingUAh, base.chargePerReadingUAh / 2, "charge at twice the bit rate");
  const hungrier = energy(bytes, { ...MODEL, txCurrentMa: 40 });
  assert.equal(hungrier.airtimeMs, base.airtimeMs);
  assertClose(hungrier.chargePerReadingUAh, base.chargePerReadingUAh * 2, "charge at twice the current");
  const oftener = energy(bytes, { ...MODEL, intervalS: 30 });
  assertClose(oftener.chargePerDayUAh, base.chargePerDayUAh * 2, "charge per day at half the interval");
  assertClose(oftener.batteryLifeDays, base.batteryLifeDays / 2, "life at half the interval");
  const bigger = energy(bytes, { ...MODEL, batteryMah: 450 });
  assertClose(bigger.batteryLifeDays, base.batteryLifeDays * 2, "life with twice the capacity");
  const sleeping = energy(bytes, { ...MODEL, sleepCurrentUa: 2 });
  assertClose(sleeping.chargePerDayUAh, base.chargePerDayUAh + 2 * 24, "2 µA all day is 48 µAh");
  const receiving = energy(bytes, { ...MODEL, rxCurrentMa: 10 });
  assertClose(
    receiving.chargePerReadingUAh,
    (42 * 20 + 48 * 10) * 8 / 250_000 * 1000 / 3600,
    "TX and RX split",
  );
  assertClose(base.batteryLifeYears * 365.25, base.batteryLifeDays, "years and days");
});

Deno.test("units are chosen by magnitude", () => {
  assert.equal(formatCharge(0.0042667), "4.267 nAh");
  assert.equal(formatCharge(6.144), "6.144 µAh");
  assert.equal(formatCharge(6149), "6.149 mAh");
  assert.equal(formatAirtime(0.768), "0.768 ms");
  assert.equal(formatAirtime(2500), "2.5 s");
  assert.equal(formatLife(36.59, 36.59 / 365.25), "36.59 days");
  assert.equal(formatLife(36621.09, 100.263), "100.3 years (36,621 days)");
});

Deno.test("--radio presets set bit rate and TX current; --bitrate and --tx-current-ma override them", async () => {
  const lora = await overheadJson(["--radio", "lora"]);
  assert.equal(lora.radio.bitrateBitPerS, 5468.75);
  assert.equal(lora.radio.txCurrentMa, 29);
  const ieee = await overheadJson([]);
  // The same bytes take 250000 / 5468.75 = 45.7 times longer on LoRa SF7.
  assertClose(
    lora.layers.exchange.coap.airtimeMs,
    ieee.layers.exchange.coap.airtimeMs * 250_000 / 5468.75,
    "LoRa",
  );
  const overridden = await overheadJson(["--radio", "wifi", "--bitrate", "1000", "--tx-current-ma", "1"]);
  assert.equal(overridden.radio.bitrateBitPerS, 1000);
  assert.equal(overridden.radio.txCurrentMa, 1);
  assert.match(overridden.assumptions.join("\n"), /given by --bitrate\/--tx-current-ma/);
});

Deno.test("--ip 6 uses a 40-byte header and an IPv6 host", async () => {
  const report = await overheadJson(["--ip", "6"]);
  assert.equal(report.uri, "coap://[2001:db8::1]/temperature");
  assert.equal(report.http.request, "GET /temperature HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n");
  assert.equal(report.layers.exchange.coap.bytes, report.layers.application.coap.bytes + 2 * 48);
  assert.equal(report.layers.exchange.http.bytes, report.layers.application.http.bytes + 11 * 60);
});

Deno.test("bad flags are usage errors: a message and exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--bitrate", "0"], /--bitrate 0/],
    [["--tx-current-ma", "abc"], /--tx-current-ma abc/],
    [["--radio", "zigbee"], /--radio zigbee: expected one of 802\.15\.4, lora/],
    [["--token-length", "9"], /--token-length 9/],
    [["--ip", "5"], /--ip 5/],
    [["--interval=-1"], /--interval -1/],
    [["--sleep-current-ua=-2"], /--sleep-current-ua -2/],
    [["--device", "gateway"], /--device gateway/],
    [["--coap-bytes", "24", "--rx-current-ma", "10"], /--rx-current-ma needs/],
    [["coap://[2001:db8::1]/t", "--ip", "4"], /--ip 4 contradicts/],
    [["http://192.0.2.1/t"], /scheme "http" is not supported/],
    [["coap://192.0.2.1/a%zz"], /bad percent-encoding/],
    [["--payload", "x".repeat(9000)], /exceeds the 8192-byte limit/],
    [["--watts"], /watts/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runCli(["overhead", ...args]);
    assert.equal(code, 2, `overhead ${args.join(" ")}`);
    assert.match(stderr, message);
  }
});
