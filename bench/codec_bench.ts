/**
 * bench:codec — decode + encode operations per second of our WASM codec
 * against the npm package coap-packet, in one run, on three messages.
 * Prints a table; with --json one JSON array of rows with a `ratio` field.
 * @module
 */
import { Buffer } from "node:buffer";
import { parseArgs } from "node:util";
import { generate, parse } from "coap-packet";
import {
  Code,
  ContentFormat,
  decode,
  encode,
  encodeBlock,
  encodeString,
  encodeUint,
  OptionNumber,
  Type,
} from "../src/mod.ts";
import type { Message } from "../src/mod.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    seconds: { type: "string", default: "0.5" },
    rounds: { type: "string", default: "4" },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

const text = (length: number) => new TextEncoder().encode("x".repeat(length));
const cases: { name: string; message: Message }[] = [
  {
    name: "CON GET /temperature, 4-byte token",
    message: {
      type: Type.CON,
      code: Code.Get,
      messageId: 0x1234,
      token: Uint8Array.of(0xab, 0xcd, 0x12, 0x34),
      options: [{ number: OptionNumber.UriPath, value: encodeString("temperature") }],
      payload: new Uint8Array(),
    },
  },
  {
    name: "ACK 2.05, 4 options, 64-byte payload",
    message: {
      type: Type.ACK,
      code: Code.Content,
      messageId: 0x1234,
      token: Uint8Array.of(0xab, 0xcd, 0x12, 0x34),
      options: [
        { number: OptionNumber.ETag, value: Uint8Array.of(1, 2, 3, 4) },
        { number: OptionNumber.Observe, value: encodeUint(12345) },
        { number: OptionNumber.ContentFormat, value: encodeUint(ContentFormat.TextPlain) },
        { number: OptionNumber.MaxAge, value: encodeUint(60) },
      ],
      payload: text(64),
    },
  },
  {
    name: "ACK 2.05 Block2 1 KB",
    message: {
      type: Type.ACK,
      code: Code.Content,
      messageId: 0x1234,
      token: Uint8Array.of(0xab, 0xcd, 0x12, 0x34),
      options: [
        { number: OptionNumber.ETag, value: Uint8Array.of(1, 2, 3, 4) },
        { number: OptionNumber.ContentFormat, value: encodeUint(ContentFormat.TextPlain) },
        { number: OptionNumber.Block2, value: encodeBlock({ num: 3, more: true, szx: 6 }) },
        { number: OptionNumber.Size2, value: encodeUint(8192) },
      ],
      payload: text(1024),
    },
  },
];

let sink = 0;
const BATCH = 2000;

// One loop per codec, each calling its codec directly: a shared loop taking a callback
// goes megamorphic and stops V8 inlining either side, which measured coap-packet at ~60 %.

/** Our decode + encode of `datagram` for `duration` seconds; operations per second. */
function oursFor(datagram: Uint8Array, duration: number): number {
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now < start + duration * 1000) {
    for (let i = 0; i < BATCH; i++) sink += encode(decode(datagram)).length;
    count += BATCH;
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

/** coap-packet's parse + generate of `datagram` for `duration` seconds; operations per second. */
function theirsFor(datagram: Buffer, duration: number): number {
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now < start + duration * 1000) {
    for (let i = 0; i < BATCH; i++) sink += generate(parse(datagram), 2048).length;
    count += BATCH;
    now = performance.now();
  }
  return count / ((now - start) / 1000);
}

const rows = cases.map(({ name, message }) => {
  const ours = encode(message);
  const theirs = Buffer.from(ours);
  // Rounds alternate so neither side always runs after the other's garbage; each starts with a timed
  // warm-up (coap-packet needs about a second in Deno to reach full speed) and keeps its best round.
  let oursRate = 0;
  let theirsRate = 0;
  for (let round = 0; round < rounds; round++) {
    oursFor(ours, seconds);
    oursRate = Math.max(oursRate, oursFor(ours, seconds));
    theirsFor(theirs, seconds);
    theirsRate = Math.max(theirsRate, theirsFor(theirs, seconds));
  }
  return {
    name,
    bytes: ours.length,
    ours: Math.round(oursRate),
    coapPacket: Math.round(theirsRate),
    ratio: oursRate / theirsRate,
  };
});

if (values.json) {
  console.log(JSON.stringify(rows));
} else {
  console.log(
    `decode + encode per second, best of ${rounds} alternating rounds of ${seconds} s (same process)\n`,
  );
  console.log("message                                  bytes      ours   coap-packet   ratio");
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(40)} ${String(row.bytes).padStart(5)} ${row.ours.toLocaleString("en").padStart(9)} ${
        row.coapPacket.toLocaleString("en").padStart(13)
      } ${row.ratio.toFixed(2).padStart(6)}×`,
    );
  }
}
if (sink === -1) console.log(sink);
