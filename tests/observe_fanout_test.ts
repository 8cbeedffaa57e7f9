// Observe fan-out (RFC 7641): a change runs the GET handler once per form of request, not once per
// observer; every observer still gets its own token, Message ID and rising sequence number, with the
// every-Nth-CON policy kept; and the notifications of one change reach the transport as one batch.
import assert from "node:assert/strict";
import {
  type Address,
  type CoapOption,
  CoapServer,
  Code,
  ContentFormat,
  decodeUint,
  encode,
  encodeUint,
  Endpoint,
  type Message,
  observable,
  OptionNumber,
  Site,
  type Transport,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { injectedTransport } from "./_injected_transport.ts";

const OBSERVERS = 200;
const empty = new Uint8Array(0);
/** Observer i: its own address (one observation per peer, as the per-peer bound allows). */
const observerAt = (i: number): Address => ({ hostname: "10.9.0.1", port: 40000 + i });
const observeOf = (message: Message) => {
  const value = message.options.find((option) => option.number === OptionNumber.Observe)?.value;
  return value === undefined ? undefined : decodeUint(value);
};
const tokenOf = (i: number) => Uint8Array.of(0xa0, i >> 8, i & 255);
const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

/**
 * A server with observable /value on an injected transport whose send() calls are counted: each
 * observer registers with its own token, Accept `acceptOf(i)` when given.
 */
function fanout(options: { acceptOf?: (i: number) => number | undefined; renderPerPeer?: boolean } = {}) {
  const clock = new VirtualClock();
  const wire = injectedTransport(undefined, clock);
  const sendCalls: number[] = [];
  const transport: Transport = {
    ...wire.transport,
    send: (batch) => {
      sendCalls.push(batch.length);
      wire.transport.send(batch);
    },
  };
  let value = 0;
  const renders: (number | undefined)[] = [];
  const resource = observable({
    get: (request) => {
      renders.push(request.accept);
      return request.accept === ContentFormat.Json
        ? { payload: JSON.stringify({ value }), contentFormat: ContentFormat.Json }
        : { payload: `${value}`, contentFormat: ContentFormat.TextPlain };
    },
  }, { conEvery: 5, renderPerPeer: options.renderPerPeer });
  const endpoint = new Endpoint(transport, { clock, seed: 7, limits: SERVER_LIMITS });
  const server = new CoapServer(new Site().add("value", resource), { endpoint });
  for (let i = 0; i < OBSERVERS; i++) {
    const accept = options.acceptOf?.(i);
    const requestOptions: CoapOption[] = [
      { number: OptionNumber.Observe, value: empty },
      { number: OptionNumber.UriPath, value: new TextEncoder().encode("value") },
    ];
    if (accept !== undefined) requestOptions.push({ number: OptionNumber.Accept, value: encodeUint(accept) });
    wire.inject(
      observerAt(i),
      encode({
        type: Type.CON,
        code: Code.Get,
        messageId: i,
        token: tokenOf(i),
        options: requestOptions,
        payload: empty,
      }),
    );
  }
  return {
    clock,
    server,
    wire,
    sendCalls,
    renders,
    /** A new state; resolves once its notifications are out. */
    change: async () => {
      value++;
      const before = wire.sent.length;
      resource.changed();
      await clock.advance(0);
      return wire.sent.slice(before);
    },
    /** ACKs every CON among `sent`, so the next state goes out at once rather than replacing it. */
    acknowledge: async (sent: { to: Address; message: Message }[]) => {
      for (const { to, message } of sent) {
        if (message.type !== Type.CON) continue;
        wire.inject(
          to,
          encode({
            type: Type.ACK,
            code: 0,
            messageId: message.messageId,
            token: empty,
            options: [],
            payload: empty,
          }),
        );
      }
      await clock.advance(0);
    },
  };
}

Deno.test("200 observers of one form: the GET handler runs once per change, each gets its own token and rising sequence, every 5th CON", async () => {
  const { server, renders, change, acknowledge } = fanout();
  try {
    assert.equal(server.observerCount, OBSERVERS);
    assert.equal(renders.length, OBSERVERS, "each registration is rendered for its own response");
    renders.length = 0;
    const sequences = new Map<string, number[]>();
    for (let round = 1; round <= 5; round++) {
      const sent = await change();
      assert.equal(renders.length, round, `change ${round} rendered once`);
      assert.equal(sent.length, OBSERVERS);
      const tokens = new Set(sent.map(({ message }) => hex(message.token)));
      assert.equal(tokens.size, OBSERVERS, "every observer its own token");
      for (let i = 0; i < OBSERVERS; i++) assert.ok(tokens.has(hex(tokenOf(i))));
      for (const { to, message } of sent) {
        assert.equal(new TextDecoder().decode(message.payload), `${round}`);
        const key = `${to.port}/${hex(message.token)}`;
        sequences.set(key, [...(sequences.get(key) ?? []), observeOf(message)!]);
      }
      // RFC 7641 §4.5: the lab's every-5th-CON pattern, as before the renderings were shared.
      const types = new Set(sent.map(({ message }) => message.type));
      assert.deepEqual([...types], [round === 5 ? Type.CON : Type.NON]);
      await acknowledge(sent);
    }
    for (const [key, observed] of sequences) {
      assert.equal(observed.length, 5, key);
      assert.ok(
        observed.every((sequence, i) => i === 0 || sequence > observed[i - 1]),
        `${key}: ${observed}`,
      );
    }
  } finally {
    server.close();
  }
});

Deno.test("two Accept forms among 200 observers: two renderings per change, each observer gets its own form", async () => {
  const { server, renders, change } = fanout({
    acceptOf: (i) => i % 2 === 0 ? ContentFormat.TextPlain : ContentFormat.Json,
  });
  try {
    renders.length = 0;
    const sent = await change();
    assert.deepEqual(renders.toSorted(), [ContentFormat.TextPlain, ContentFormat.Json]);
    assert.equal(sent.length, OBSERVERS);
    for (const { to, message } of sent) {
      const i = to.port - 40000;
      assert.equal(hex(message.token), hex(tokenOf(i)));
      assert.equal(new TextDecoder().decode(message.payload), i % 2 === 0 ? "1" : `{"value":1}`);
    }
  } finally {
    server.close();
  }
});

Deno.test("a re-registration with the same token and another Accept moves the observer to that form (RFC 7641 §4.1)", async () => {
  const { server, wire, renders, change } = fanout();
  try {
    wire.inject(
      observerAt(0),
      encode({
        type: Type.CON,
        code: Code.Get,
        messageId: 9999,
        token: tokenOf(0),
        options: [
          { number: OptionNumber.Observe, value: empty },
          { number: OptionNumber.UriPath, value: new TextEncoder().encode("value") },
          { number: OptionNumber.Accept, value: encodeUint(ContentFormat.Json) },
        ],
        payload: empty,
      }),
    );
    assert.equal(server.observerCount, OBSERVERS, "the same observation, not a second one");
    renders.length = 0;
    const sent = await change();
    assert.deepEqual(renders.toSorted(), [ContentFormat.Json, undefined]); // toSorted puts undefined last
    assert.equal(sent.length, OBSERVERS);
    const moved = sent.filter(({ to }) => to.port === observerAt(0).port);
    assert.deepEqual(moved.map(({ message }) => new TextDecoder().decode(message.payload)), [`{"value":1}`]);
  } finally {
    server.close();
  }
});

Deno.test("renderPerPeer: a handler that depends on who asks is run for each observing peer", async () => {
  const { server, renders, change } = fanout({ renderPerPeer: true });
  try {
    renders.length = 0;
    await change();
    assert.equal(renders.length, OBSERVERS);
  } finally {
    server.close();
  }
});

Deno.test("the notifications of one change leave in one transport send, CONs and NONs alike", async () => {
  const { server, sendCalls, change, acknowledge } = fanout();
  try {
    assert.equal(sendCalls.length, OBSERVERS, "registration responses go one by one, as they are answered");
    for (let round = 1; round <= 5; round++) {
      sendCalls.length = 0;
      const sent = await change();
      assert.deepEqual(sendCalls, [OBSERVERS], `change ${round}`);
      await acknowledge(sent);
    }
  } finally {
    server.close();
  }
});
