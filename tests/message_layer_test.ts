// The message layer's bounded tables (issue 10), on the real endpoint and WASM
// core: duplicate detection that a flood from other peers cannot break, 5.03
// with Max-Age when a table is full (never a second run of a handler), a peer
// table that 100,000 addresses cannot grow, Message IDs that skip IDs in
// flight, and cached replies that do not pin shared slabs.
import assert from "node:assert/strict";
import {
  type Address,
  CoapServer,
  Code,
  decode,
  encode,
  Endpoint,
  exchangeLifetime,
  getUintOption,
  maxTransmitSpan,
  type MessageLayerSizes,
  observable,
  OptionNumber,
  Site,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { DEFAULT_PARAMETERS } from "../src/endpoint/params.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { MessageLayerCore } from "../src/core/message_layer_core.ts";
import { injectedTransport } from "./_injected_transport.ts";
import { runProbe } from "./_memory.ts";

const LIFETIME = exchangeLifetime(DEFAULT_PARAMETERS);
const empty = new Uint8Array(0);
const tokenOf = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** A datagram: a request with the given type, code, Message ID and token to /count. */
function request(type: Type, code: number, messageId: number, token: number): Uint8Array {
  return encode({
    type,
    code,
    messageId,
    token: tokenOf(token),
    options: [{ number: OptionNumber.UriPath, value: new TextEncoder().encode("count") }],
    payload: empty,
  });
}

/** A server on an injected transport and a virtual clock, with a /count resource that counts runs per token. */
function countingServer(limits: Partial<MessageLayerSizes> = {}) {
  const clock = new VirtualClock();
  const wire = injectedTransport();
  const runs = new Map<string, number>();
  const site = new Site().add("count", {
    get: () => "ok",
    post: (request) => {
      const token = request.message.token.join(".");
      runs.set(token, (runs.get(token) ?? 0) + 1);
      return "created";
    },
  });
  const endpoint = new Endpoint(wire.transport, { clock, seed: 1, limits: { ...SERVER_LIMITS, ...limits } });
  const server = new CoapServer(site, { endpoint });
  const runsOf = (token: number) => runs.get(tokenOf(token).join(".")) ?? 0;
  return { clock, wire, server, endpoint, runsOf, runs };
}

const address = (i: number): Address => ({
  hostname: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  port: 40000,
});

Deno.test("a full strict dedup table answers new POSTs 5.03 with Max-Age and never runs them; duplicates still get their reply", async () => {
  const { clock, wire, server, runsOf, runs } = countingServer({ strictEntries: 64, strictPerPeer: 16 });
  const alice = address(1);
  for (let i = 0; i < 16; i++) wire.inject(alice, request(Type.CON, Code.Post, 100 + i, i));
  assert.equal(runs.size, 16);
  wire.sent.length = 0;
  // The peer's quota is full: the 17th POST is refused, with Max-Age until its oldest entry expires.
  await clock.advance(10_000);
  wire.inject(alice, request(Type.CON, Code.Post, 200, 99));
  const busy = wire.sent.at(-1)!.message;
  assert.equal(busy.type, Type.ACK);
  assert.equal(busy.code, Code.ServiceUnavailable);
  assert.equal(getUintOption(busy, OptionNumber.MaxAge), Math.ceil((LIFETIME - 10_000) / 1000));
  assert.equal(runsOf(99), 0, "a refused request never runs");
  // A retransmission of an accepted one still gets the same cached answer, without a second run.
  const before = wire.sent.length;
  wire.inject(alice, request(Type.CON, Code.Post, 103, 3));
  assert.equal(wire.sent.length, before + 1);
  assert.equal(wire.sent.at(-1)!.message.code, Code.Changed);
  assert.equal(runsOf(3), 1);
  // Other peers fill the pool (64 entries): then even a newcomer's POST is refused.
  for (let p = 2; p <= 4; p++) {
    for (let i = 0; i < 16; i++) wire.inject(address(p), request(Type.CON, Code.Post, i, p * 100 + i));
  }
  wire.inject(address(5), request(Type.CON, Code.Post, 1, 555));
  assert.equal(wire.sent.at(-1)!.message.code, Code.ServiceUnavailable);
  assert.equal(runsOf(555), 0);
  // GETs need no strict entry: they are still served.
  wire.inject(address(5), request(Type.CON, Code.Get, 2, 556));
  assert.equal(wire.sent.at(-1)!.message.code, Code.Content);
  // Once EXCHANGE_LIFETIME has passed the entries expire and POSTs are taken again.
  await clock.advance(LIFETIME);
  wire.inject(alice, request(Type.CON, Code.Post, 300, 77));
  assert.equal(wire.sent.at(-1)!.message.code, Code.Changed);
  assert.equal(runsOf(77), 1);
  server.close();
});

Deno.test("a NON POST that no table has room for gets a NON 5.03 and never runs", () => {
  const { wire, server, runsOf } = countingServer({ strictEntries: 4, strictPerPeer: 2 });
  for (let i = 0; i < 2; i++) wire.inject(address(1), request(Type.NON, Code.Post, i, i));
  wire.inject(address(1), request(Type.NON, Code.Post, 9, 9));
  const busy = wire.sent.at(-1)!.message;
  assert.equal(busy.type, Type.NON);
  assert.equal(busy.code, Code.ServiceUnavailable);
  assert.ok(getUintOption(busy, OptionNumber.MaxAge)! > 0);
  assert.equal(runsOf(9), 0);
  server.close();
});

Deno.test("100,000 source addresses: the peer table stays within its bound, and frees up after EXCHANGE_LIFETIME", async () => {
  const { clock, wire, server, endpoint, runsOf } = countingServer();
  const peers = SERVER_LIMITS.peers!;
  let refused = 0;
  for (let i = 0; i < 100_000; i++) {
    wire.inject(address(i), request(Type.CON, Code.Post, 1, i));
    if (wire.sent.at(-1)!.message.code === Code.ServiceUnavailable) refused++;
  }
  // Each POST pins its peer's entry for EXCHANGE_LIFETIME; past the table's size newcomers are refused.
  assert.equal(endpoint.stats.peers, peers);
  assert.equal(endpoint.stats.pinnedPeers, peers);
  assert.equal(refused, 100_000 - peers);
  assert.equal(runsOf(peers - 1), 1);
  assert.equal(runsOf(peers), 0);
  // GETs pin nothing, so a newcomer's GET is answered even now.
  wire.inject(address(200_000), request(Type.CON, Code.Get, 1, 1));
  assert.equal(wire.sent.at(-1)!.message.code, Code.Content);
  await clock.advance(LIFETIME + 1);
  assert.equal(endpoint.stats.pinnedPeers, 0, "every entry can be reused once its dedup entries expired");
  assert.ok(endpoint.stats.peers <= peers);
  wire.inject(address(300_000), request(Type.CON, Code.Post, 1, 300_000));
  assert.equal(wire.sent.at(-1)!.message.code, Code.Changed);
  assert.equal(runsOf(300_000), 1);
  server.close();
});

Deno.test("100,000 GETs from 100,000 addresses are all answered: safe requests never pin an entry", () => {
  const { wire, server, endpoint } = countingServer({ peers: 64 });
  for (let i = 0; i < 100_000; i++) wire.inject(address(i), request(Type.CON, Code.Get, i & 0xffff, i));
  assert.equal(wire.sent.length, 100_000);
  assert.ok(wire.sent.every(({ message }) => message.code === Code.Content));
  assert.equal(endpoint.stats.peers, 64);
  server.close();
});

Deno.test("a duplicate CON POST gets the same bytes again, a duplicate NON is dropped, each handled once", () => {
  const { wire, server, runsOf } = countingServer();
  const from = address(7);
  wire.inject(from, request(Type.CON, Code.Post, 0x1234, 1));
  wire.inject(from, request(Type.CON, Code.Post, 0x1234, 1));
  assert.equal(wire.sent.length, 2);
  assert.deepEqual(wire.sent[1].data, wire.sent[0].data);
  assert.equal(runsOf(1), 1);
  wire.inject(from, request(Type.NON, Code.Post, 0x2000, 2));
  wire.inject(from, request(Type.NON, Code.Post, 0x2000, 2));
  assert.equal(wire.sent.length, 3);
  assert.equal(runsOf(2), 1);
  server.close();
});

Deno.test("Message IDs: per peer, in sequence, never one still in flight to that peer, across wrap-around", () => {
  const core = new MessageLayerCore(
    { peers: 4, safeWindow: 2, recentNons: 2, strictEntries: 8, strictPerPeer: 4, retransmitSlots: 4 },
    { exchangeLifetime: LIFETIME, nonLifetime: 145_000, seed: 9 },
  );
  const peer = core.peerFor(address(1), 0);
  const inFlight = core.allocateMessageId(peer, 0);
  assert.ok(core.schedule(peer, inFlight, 0, DEFAULT_PARAMETERS) >= 0);
  const nonSent = core.allocateMessageId(peer, 0);
  core.recordNon(peer, nonSent, 0);
  const seen = new Set<number>();
  let previous = nonSent;
  for (let i = 0; i < 70_000; i++) {
    const messageId = core.allocateMessageId(peer, 0);
    assert.notEqual(messageId, inFlight);
    assert.notEqual(messageId, nonSent);
    const skipped = (messageId - previous + 0x10000) & 0xffff;
    assert.ok(
      skipped === 1 || skipped === 2 || skipped === 3,
      `jumped ${skipped} from ${previous} to ${messageId}`,
    );
    previous = messageId;
    seen.add(messageId);
  }
  assert.equal(seen.size, 0x10000 - 2, "every other ID comes round");
  // Another peer has its own sequence.
  const other = core.peerFor(address(2), 0);
  assert.ok(core.allocateMessageId(other, 0) >= 0);
});

Deno.test("an RST to a recent NON reaches its sender's callback; one to an unknown Message ID is ignored", () => {
  const clock = new VirtualClock();
  const wire = injectedTransport();
  const endpoint = new Endpoint(wire.transport, { clock, seed: 3 });
  const peer = endpoint.peer(address(1));
  let resets = 0;
  endpoint.sendNonConfirmable(
    { code: Code.Content, token: tokenOf(1), options: [], payload: empty },
    peer,
    () => resets++,
  );
  const { messageId } = wire.sent[0].message;
  const rst = (id: number) =>
    encode({ type: Type.RST, code: 0, messageId: id, token: empty, options: [], payload: empty });
  wire.inject(address(1), rst((messageId + 1) & 0xffff));
  assert.equal(resets, 0);
  wire.inject(address(1), rst(messageId));
  assert.equal(resets, 1);
  wire.inject(address(1), rst(messageId));
  assert.equal(resets, 1, "once only");
  endpoint.close();
});

Deno.test("5,000 cached small replies add less than 5 MB (kept as strings, not views that pin 16 KiB slabs)", async () => {
  const { cached, addedBytes } = await runProbe("./_reply_memory_probe.ts");
  assert.equal(cached, 5000);
  assert.ok(addedBytes < 5 * 1024 * 1024, `5,000 replies added ${(addedBytes / 1048576).toFixed(1)} MB`);
});

Deno.test("a flood of 100,000 datagrams from 1,000 other ports cannot evict a POST's dedup entry: its retransmission gets the cached answer, the handler ran once", async () => {
  let runs = 0;
  const site = new Site().add("count", {
    post: (request) => {
      if (request.message.token[0] === 0xaa) runs++;
      return "created";
    },
  });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port: server.address.port };
  const victim = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const flooders = Array.from(
    { length: 1000 },
    () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  try {
    const post = encode({
      type: Type.CON,
      code: Code.Post,
      messageId: 0x4242,
      token: Uint8Array.of(0xaa, 1, 2, 3),
      options: [{ number: OptionNumber.UriPath, value: new TextEncoder().encode("count") }],
      payload: empty,
    });
    await victim.send(post, target);
    const [first] = await victim.receive();
    assert.equal(decode(first).code, Code.Changed);
    // 100 POSTs from each of 1,000 ports, sent in rounds (each port's answers are drained and dropped).
    for (let round = 0; round < 100; round++) {
      await Promise.all(
        flooders.map((socket, i) =>
          socket.send(request(Type.CON, Code.Post, round, i * 100 + round), target)
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await victim.send(post, target);
    const [again] = await victim.receive();
    assert.deepEqual(again, first, "the retransmission gets the very same answer");
    assert.equal(runs, 1, "the handler ran once");
    assert.ok(server.endpoint.stats.strictEntries > 50_000, `${server.endpoint.stats.strictEntries} entries`);
  } finally {
    victim.close();
    for (const socket of flooders) socket.close();
    server.close();
  }
});

Deno.test("an observation pins its peer's entry against a flood of newcomers, and lets go when it ends", async () => {
  const clock = new VirtualClock();
  const wire = injectedTransport();
  const temperature = observable({ get: () => "22.5" });
  const endpoint = new Endpoint(wire.transport, { clock, seed: 1, limits: { peers: 4 } });
  const server = new CoapServer(new Site().add("temperature", temperature), { endpoint });
  const observer = address(1);
  const observe = (messageId: number, value: number) =>
    encode({
      type: Type.CON,
      code: Code.Get,
      messageId,
      token: tokenOf(7),
      options: [
        { number: OptionNumber.Observe, value: value === 0 ? empty : Uint8Array.of(value) },
        { number: OptionNumber.UriPath, value: new TextEncoder().encode("temperature") },
      ],
      payload: empty,
    });
  wire.inject(observer, observe(1, 0));
  assert.equal(server.observerCount, 1);
  for (let i = 2; i < 1000; i++) wire.inject(address(i), request(Type.CON, Code.Get, i, i));
  assert.equal(endpoint.stats.pinnedPeers, 1);
  // The observer's entry survived: its notification goes out with the next Message ID of its own sequence.
  wire.sent.length = 0;
  temperature.changed();
  await clock.advance(1);
  assert.equal(wire.sent.length, 1);
  assert.equal(wire.sent[0].to.hostname, observer.hostname);
  wire.inject(observer, observe(2, 1));
  assert.equal(server.observerCount, 0);
  assert.equal(endpoint.stats.pinnedPeers, 0);
  server.close();
});

Deno.test("PROBING_RATE (RFC 7252 §4.7): to a peer silent for MAX_TRANSMIT_SPAN each datagram holds the next back by its size ÷ rate, retransmissions included; hearing from the peer lifts it", async () => {
  const clock = new VirtualClock();
  const wire = injectedTransport();
  const endpoint = new Endpoint(wire.transport, { clock, seed: 3, parameters: { probingRate: 2 } });
  const peer = endpoint.peer(address(1));
  const notification = { code: Code.Content, token: tokenOf(1), options: [], payload: new Uint8Array(16) };
  endpoint.sendNonConfirmable(notification, peer);
  assert.deepEqual([endpoint.quiet(peer), endpoint.sendDelay(peer)], [false, 0], "it may answer yet");
  await clock.advance(maxTransmitSpan(endpoint.parameters));
  assert.deepEqual([endpoint.quiet(peer), endpoint.sendDelay(peer)], [true, 0], "quiet, but owes nothing");
  endpoint.sendNonConfirmable(notification, peer);
  const size = wire.sent.at(-1)!.data.length; // 4 + 4 + 1 + 16 bytes
  assert.equal(endpoint.sendDelay(peer), size * 500, "size ÷ 2 bytes/s");
  await clock.advance(1000);
  assert.equal(endpoint.sendDelay(peer), size * 500 - 1000);
  // A CON's retransmissions keep their schedule, and the budget pays for them.
  const exchange = endpoint.confirmable(notification, peer);
  exchange.acknowledged.catch(() => {});
  await clock.advance(4000);
  assert.equal(wire.sent.length, 4, "the CON and its first retransmission went out on schedule");
  assert.equal(endpoint.sendDelay(peer), size * 500 * 3 - 5000);
  // An ACK, like anything from the peer, says it is there: no more pacing.
  const { messageId } = wire.sent.at(-1)!.message;
  wire.inject(
    address(1),
    encode({ type: Type.ACK, code: 0, messageId, token: empty, options: [], payload: empty }),
  );
  assert.deepEqual([endpoint.quiet(peer), endpoint.sendDelay(peer)], [false, 0]);
  endpoint.close();
});
