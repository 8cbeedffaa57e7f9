// Known datagrams, decoded field by field and encoded back byte for byte,
// with option deltas and lengths on both sides of every nibble boundary.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Code, decode, encode, encodeString, type Message, OptionNumber, Type } from "../src/mod.ts";
import { bytes, hex } from "./_hex.ts";

const empty = new Uint8Array();

/** Decodes `vector`, checks it against `expected`, and checks that encoding `expected` gives `vector` back. */
function roundTrip(vector: string, expected: Message) {
  const datagram = bytes(vector);
  const message = decode(datagram);
  assert.deepEqual(
    {
      ...message,
      token: hex(message.token),
      payload: hex(message.payload),
      options: message.options.map((o) => [o.number, hex(o.value)]),
    },
    {
      ...expected,
      token: hex(expected.token),
      payload: hex(expected.payload),
      options: expected.options.map((o) => [o.number, hex(o.value)]),
    },
  );
  assert.equal(hex(encode(expected)), hex(datagram));
}

const header = (options: Message["options"], payload: Uint8Array = empty): Message => ({
  type: Type.CON,
  code: Code.Get,
  messageId: 1,
  token: empty,
  options,
  payload,
});

Deno.test("the lab's GET /temperature: CON, 0.01, MID 4660, token abcd1234, Uri-Path", () => {
  roundTrip("44011234abcd1234bb74656d7065726174757265", {
    type: Type.CON,
    code: Code.Get,
    messageId: 4660,
    token: bytes("abcd1234"),
    options: [{ number: OptionNumber.UriPath, value: encodeString("temperature") }],
    payload: empty,
  });
});

Deno.test("Empty ACK and RST carry only the header", () => {
  roundTrip("60001234", {
    type: Type.ACK,
    code: Code.Empty,
    messageId: 0x1234,
    token: empty,
    options: [],
    payload: empty,
  });
  roundTrip("7000ffff", {
    type: Type.RST,
    code: Code.Empty,
    messageId: 0xffff,
    token: empty,
    options: [],
    payload: empty,
  });
});

Deno.test("piggybacked 2.05 with Content-Format 0 (zero-length uint) and a payload", () => {
  roundTrip("6145beef7ac0ff32322e35", {
    type: Type.ACK,
    code: Code.Content,
    messageId: 0xbeef,
    token: bytes("7a"),
    options: [{ number: OptionNumber.ContentFormat, value: empty }],
    payload: encodeString("22.5"),
  });
});

Deno.test("option deltas at 12 | 13, 268 | 269 and 65535", () => {
  for (
    const [number, optionHeader] of [
      [12, "c0"],
      [13, "d000"],
      [14, "d001"],
      [268, "d0ff"],
      [269, "e00000"],
      [270, "e00001"],
      [65535, "e0fef2"],
    ] as const
  ) {
    roundTrip(`40010001${optionHeader}`, header([{ number, value: empty }]));
  }
});

Deno.test("option lengths at 12 | 13 and 268 | 269", () => {
  for (
    const [length, optionHeader] of [
      [12, "1c"],
      [13, "1d00"],
      [268, "1dff"],
      [269, "1e0000"],
      [270, "1e0001"],
    ] as const
  ) {
    const value = new Uint8Array(length).fill(0x61);
    roundTrip(`40010001${optionHeader}${hex(value)}`, header([{ number: 1, value }]));
  }
});

Deno.test("extended delta and extended length in one option header", () => {
  const value = new Uint8Array(300).fill(7);
  roundTrip(`40010001ee001f001f${hex(value)}`, header([{ number: 300, value }]));
});

Deno.test("a declared length of 65535 past the end is a truncated value, not a crash", () => {
  assert.throws(() => decode(bytes("400100011efef2")), { reason: "truncated-option-value", offset: 7 });
});

Deno.test("repeated options keep their order; encode sorts the rest by number", () => {
  const message = header([
    { number: OptionNumber.UriPath, value: encodeString("a") },
    { number: OptionNumber.ETag, value: bytes("01") },
    { number: OptionNumber.UriPath, value: encodeString("b") },
    { number: OptionNumber.UriPath, value: encodeString("c") },
  ]);
  const encoded = encode(message);
  assert.equal(hex(encoded), "40010001" + "4101" + "7161" + "0162" + "0163");
  assert.deepEqual(decode(encoded).options.map((o) => new TextDecoder().decode(o.value)), [
    "\x01",
    "a",
    "b",
    "c",
  ]);
});

Deno.test("decoded views point into the datagram without copying", () => {
  const datagram = bytes("44011234abcd1234bb74656d7065726174757265");
  const message = decode(datagram);
  assert.equal(message.token.buffer, datagram.buffer);
  assert.equal(message.options[0].value.buffer, datagram.buffer);
});

Deno.test("decoded views are plain Uint8Arrays at the right place in the datagram's buffer", () => {
  // A datagram at an offset into a larger buffer, as a Node Buffer from a pool is.
  const pool = new Uint8Array(64);
  pool.set(bytes("64451234abcd1234c0ff6869"), 17);
  const datagram = Buffer.from(pool.buffer, 17, 12);
  const message = decode(datagram);
  // The zero-length Content-Format value is a shared empty view, not one into the datagram.
  for (const part of [message.token, message.options[0].value, message.payload]) {
    assert.equal(Object.getPrototypeOf(part), Uint8Array.prototype);
  }
  assert.equal(message.token.buffer, pool.buffer);
  assert.equal(message.payload.buffer, pool.buffer);
  assert.deepEqual([hex(message.token), message.options[0].value.length, hex(message.payload)], [
    "abcd1234",
    0,
    "6869",
  ]);
  assert.equal(message.payload.byteOffset, 17 + 10);
});

Deno.test("encode copies the payload: neither the result nor the payload changes with the other", () => {
  const payload = new Uint8Array(1024).fill(0x78);
  const encoded = encode(header([], payload));
  payload.fill(0);
  assert.deepEqual([encoded.length, encoded[4], encoded[5], encoded[1028]], [1029, 0xff, 0x78, 0x78]);
  encoded.fill(1);
  assert.equal(payload[0], 0);
});

Deno.test("encoded messages stay intact while later ones are encoded", () => {
  const first = encode(header([], encodeString("first")));
  const kept = hex(first);
  for (let i = 0; i < 5000; i++) encode(header([], new Uint8Array(100).fill(i & 0xff)));
  assert.equal(hex(first), kept);
});
