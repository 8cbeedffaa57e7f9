// Cross-check against an independent implementation, the npm package coap-packet:
// what we encode it parses to the same fields, and what it generates we decode to the same fields.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { generate, parse } from "coap-packet";
import { codeString, decode, encode, knownOptions, type Message, Type } from "../src/mod.ts";
import { hex } from "./_hex.ts";
import { randomMessage, seededRandom } from "./_random.ts";

const CORPUS = 20_000;

// coap-packet names known options; these two it knows and we do not.
const NUMBER_BY_NAME = new Map<string, number>([
  ...knownOptions().map((option) => [option.name, option.number] as [string, number]),
  ["OCF-Accept-Content-Format-Version", 2049],
  ["OCF-Content-Format-Version", 2053],
]);

const theirType = (packet: { confirmable: boolean; ack: boolean; reset: boolean }) =>
  packet.confirmable ? Type.CON : packet.ack ? Type.ACK : packet.reset ? Type.RST : Type.NON;

function fields(message: Message) {
  return {
    type: message.type,
    code: codeString(message.code),
    messageId: message.messageId,
    token: hex(message.token),
    options: message.options.map((option) => `${option.number}=${hex(option.value)}`),
    payload: hex(message.payload),
  };
}

Deno.test(`ours → coap-packet: ${CORPUS.toLocaleString("en")} messages parse to the same fields`, () => {
  const random = seededRandom(7252);
  for (let i = 0; i < CORPUS; i++) {
    const message = randomMessage(random);
    const packet = parse(Buffer.from(encode(message)));
    assert.deepEqual(
      {
        type: theirType(packet),
        code: packet.code,
        messageId: packet.messageId,
        token: hex(packet.token),
        options: packet.options.map((option) => {
          const name = String(option.name);
          const number = /^\d+$/.test(name) ? Number(name) : NUMBER_BY_NAME.get(name);
          return `${number}=${hex(option.value)}`;
        }),
        payload: hex(packet.payload),
      },
      fields(message),
    );
  }
});

Deno.test(`coap-packet → ours: ${CORPUS.toLocaleString("en")} generated messages decode to the same fields`, () => {
  const random = seededRandom(7959);
  for (let i = 0; i < CORPUS; i++) {
    const message = randomMessage(random);
    const datagram = generate({
      confirmable: message.type === Type.CON,
      ack: message.type === Type.ACK,
      reset: message.type === Type.RST,
      code: codeString(message.code),
      messageId: message.messageId,
      token: Buffer.from(message.token),
      options: message.options.map((option) => ({ name: option.number, value: Buffer.from(option.value) })),
      payload: Buffer.from(message.payload),
    }, 65536);
    assert.deepEqual(fields(decode(new Uint8Array(datagram))), fields(message));
  }
});
