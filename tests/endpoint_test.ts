// The message layer on a virtual clock over the in-memory link, driving the
// real WASM scheduler: exact back-off, give-up, deduplication, pings, RST,
// NSTART and separate responses.
import assert from "node:assert/strict";
import {
  type Address,
  CoapClient,
  CoapServer,
  Code,
  decode,
  encode,
  Endpoint,
  MemoryLink,
  type Message,
  ResetError,
  Site,
  TimeoutError,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { bytes } from "./_hex.ts";

const CLIENT: Address = { hostname: "10.0.0.1", port: 40000 };
const SERVER: Address = { hostname: "10.0.0.2", port: 5683 };
const empty = new Uint8Array();
const get = (token = "a1"): Omit<Message, "type" | "messageId"> => ({
  code: Code.Get,
  token: bytes(token),
  options: [],
  payload: empty,
});

/** Datagrams the link carried to `to`, decoded, with the time they were sent. */
function sentTo(link: MemoryLink, to: Address) {
  return link.log.filter((event) => event.to.port === to.port).map((event) => ({
    at: event.at,
    ...decode(event.data),
  }));
}

Deno.test("a CON to a silent peer: 4 retransmissions at T, 2T, 4T, 8T, give-up at 16T, T drawn from [2 s, 3 s]", async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const clock = new VirtualClock();
    const link = new MemoryLink(clock);
    const endpoint = new Endpoint(link.attach(CLIENT), { clock, seed });
    let failure: unknown;
    endpoint.sendConfirmable(get(), endpoint.peer(SERVER)).catch((error) => failure = error);
    await clock.advance(100_000);
    const sends = sentTo(link, SERVER);
    assert.equal(sends.length, 5, "one transmission and MAX_RETRANSMIT = 4 retransmissions");
    assert.ok(sends.every((m) => m.messageId === sends[0].messageId && m.type === Type.CON));
    const initial = sends[1].at - sends[0].at;
    assert.ok(initial >= 2000 && initial <= 3000, `initial timeout ${initial} outside [2000, 3000]`);
    assert.deepEqual(sends.map((m) => m.at - sends[0].at), [0, 1, 3, 7, 15].map((k) => k * initial));
    assert.ok(failure instanceof TimeoutError);
    endpoint.close();
  }
});

Deno.test("the schedule is deterministic for a clock and seed, and the seed spreads the initial timeout", async () => {
  const initialTimeout = async (seed: number) => {
    const clock = new VirtualClock();
    const link = new MemoryLink(clock);
    const endpoint = new Endpoint(link.attach(CLIENT), { clock, seed, parameters: { maxRetransmit: 1 } });
    endpoint.sendConfirmable(get(), endpoint.peer(SERVER)).catch(() => {});
    await clock.advance(10_000);
    endpoint.close();
    const [first, second] = sentTo(link, SERVER);
    return second.at - first.at;
  };
  assert.equal(await initialTimeout(7), await initialTimeout(7));
  const spread = new Set(await Promise.all([11, 12, 13, 14, 15, 16].map(initialTimeout)));
  assert.ok(spread.size >= 4, `initial timeouts ${[...spread]} barely vary with the seed`);
});

Deno.test("the timeout error comes at MAX_TRANSMIT_WAIT at the latest, with configured parameters", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const parameters = { ackTimeout: 200, ackRandomFactor: 1, maxRetransmit: 2 };
  const endpoint = new Endpoint(link.attach(CLIENT), { clock, seed: 3, parameters });
  let failedAt = -1;
  endpoint.sendConfirmable(get(), endpoint.peer(SERVER)).catch(() => failedAt = clock.now());
  await clock.advance(10_000);
  assert.deepEqual(sentTo(link, SERVER).map((m) => m.at), [0, 200, 600]);
  assert.equal(failedAt, 200 * (2 ** 3 - 1));
  endpoint.close();
});

Deno.test("an ACK stops retransmission; an RST fails the exchange with ResetError", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const endpoint = new Endpoint(link.attach(CLIENT), { clock, seed: 9, parameters: { nstart: 2 } });
  const raw = link.attach(SERVER);
  raw.listen((batch) => {
    for (const { data, address } of batch) {
      const request = decode(data);
      const type = request.token[0] === 0xaa ? Type.ACK : Type.RST;
      raw.send([{
        data: encode({ ...request, type, code: 0, token: empty, options: [], payload: empty }),
        address,
      }]);
    }
  });
  const acked = endpoint.sendConfirmable(get("aa"), endpoint.peer(SERVER));
  const reset = endpoint.sendConfirmable(get("bb"), endpoint.peer(SERVER));
  await clock.advance(1);
  await clock.advance(60_000);
  assert.equal((await acked).type, Type.ACK);
  await assert.rejects(reset, ResetError);
  assert.equal(sentTo(link, SERVER).length, 2, "nothing was retransmitted");
  endpoint.close();
});

Deno.test("NSTART = 1: a second CON to the same peer waits until the first is answered", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const endpoint = new Endpoint(link.attach(CLIENT), {
    clock,
    seed: 5,
    parameters: { maxRetransmit: 0, ackTimeout: 1000 },
  });
  const first = endpoint.sendConfirmable(get("01"), endpoint.peer(SERVER)).catch(() => "gave up");
  endpoint.sendConfirmable(get("02"), endpoint.peer(SERVER)).catch(() => {});
  await clock.advance(500);
  assert.equal(sentTo(link, SERVER).length, 1);
  await clock.advance(2000);
  assert.equal(await first, "gave up");
  const sends = sentTo(link, SERVER);
  assert.equal(sends.length, 2);
  assert.notEqual(sends[0].messageId, sends[1].messageId);
  endpoint.close();
});

/** A raw peer on the link that records what it receives and can send anything. */
function rawPeer(link: MemoryLink, at: Address) {
  const received: Message[] = [];
  const transport = link.attach(at);
  transport.listen((batch) => batch.forEach(({ data }) => received.push(decode(data))));
  return {
    received,
    send: (hex: string, to: Address) => transport.send([{ data: bytes(hex), address: to }]),
  };
}

Deno.test("a duplicate CON gets the cached answer again; the handler runs once", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  let calls = 0;
  const site = new Site().add("count", { post: () => `${++calls}` });
  const server = new CoapServer(site, { endpoint: new Endpoint(link.attach(SERVER), { clock, seed: 1 }) });
  const client = rawPeer(link, CLIENT);
  const request = "41021234" + "aa" + "b5636f756e74"; // CON POST MID 0x1234 token aa Uri-Path "count"
  client.send(request, SERVER);
  await clock.advance(10);
  client.send(request, SERVER);
  await clock.advance(10);
  assert.equal(calls, 1);
  assert.equal(client.received.length, 2);
  assert.deepEqual(client.received[1], client.received[0]);
  assert.equal(new TextDecoder().decode(client.received[0].payload), "1");
  // A duplicate NON is dropped without an answer.
  client.send("51025678bbb5636f756e74", SERVER);
  client.send("51025678bbb5636f756e74", SERVER);
  await clock.advance(10);
  assert.equal(calls, 2);
  assert.equal(client.received.length, 3);
  assert.equal(client.received[2].type, Type.NON);
  server.close();
});

Deno.test("ping (empty CON) and a malformed CON get RST; stray ACKs and RSTs are ignored", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const server = new CoapServer(new Site(), {
    endpoint: new Endpoint(link.attach(SERVER), { clock, seed: 1 }),
  });
  const client = rawPeer(link, CLIENT);
  client.send("4000abcd", SERVER); // CoAP ping
  client.send("4001abce f1", SERVER); // CON with option delta nibble 15
  client.send("6000abcf", SERVER); // ACK matching nothing
  client.send("7000abd0", SERVER); // RST matching nothing
  client.send("5000abd1", SERVER); // empty NON
  await clock.advance(10);
  assert.deepEqual(client.received.map((m) => [m.type, m.code, m.messageId]), [
    [Type.RST, 0, 0xabcd],
    [Type.RST, 0, 0xabce],
  ]);
  server.close();
});

Deno.test("a slow handler: empty ACK first, then the response as a CON with the same token, ACKed by the client", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const site = new Site().add("slow", {
    get: () => new Promise<string>((resolve) => clock.setTimer(() => resolve("done"), 2000)),
  });
  const server = new CoapServer(site, {
    endpoint: new Endpoint(link.attach(SERVER), { clock, seed: 1 }),
    separateResponseDelay: 100,
  });
  const client = new CoapClient({ endpoint: new Endpoint(link.attach(CLIENT), { clock, seed: 2 }) });
  const response = client.get(`coap://${SERVER.hostname}:${SERVER.port}/slow`);
  await clock.advance(5000);
  assert.equal((await response).text(), "done");
  const toClient = sentTo(link, CLIENT);
  const toServer = sentTo(link, SERVER);
  assert.deepEqual(toClient.map((m) => [m.type, m.code]), [[Type.ACK, 0], [Type.CON, Code.Content]]);
  assert.equal(toClient[0].messageId, toServer[0].messageId, "the empty ACK answers the request's MID");
  assert.notEqual(toClient[1].messageId, toServer[0].messageId, "the separate response has its own MID");
  assert.deepEqual(toClient[1].token, toServer[0].token, "…and the request's token");
  assert.deepEqual([toServer[1].type, toServer[1].code, toServer[1].messageId], [
    Type.ACK,
    0,
    toClient[1].messageId,
  ]);
  // The request reaches the server at 1 ms (the link's delay).
  assert.deepEqual(toClient.map((m) => m.at), [1 + 100, 1 + 2000]);
  client.close();
  server.close();
});

Deno.test("a CON nobody ACKs fails with the message layer's reason, even when the give-up falls at MAX_TRANSMIT_WAIT", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  // ACK_RANDOM_FACTOR 1: the give-up comes exactly at MAX_TRANSMIT_WAIT, where the request timer also fell.
  const parameters = { ackTimeout: 100, ackRandomFactor: 1 };
  const client = new CoapClient({
    endpoint: new Endpoint(link.attach(CLIENT), { clock, seed: 2, parameters }),
  });
  rawPeer(link, SERVER);
  const failure = client.get(`coap://${SERVER.hostname}:${SERVER.port}/x`).catch((error) => error);
  await clock.advance(100 * 31 + 1);
  const error = await failure;
  assert.ok(error instanceof TimeoutError);
  assert.match(error.message, /no ACK or RST from .* after 4 retransmissions/);
  client.close();
});

Deno.test("after an empty ACK the client waits MAX_TRANSMIT_WAIT for the separate response, then times out", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const parameters = { ackTimeout: 100, ackRandomFactor: 1 };
  const client = new CoapClient({
    endpoint: new Endpoint(link.attach(CLIENT), { clock, seed: 2, parameters }),
  });
  const server = rawPeer(link, SERVER);
  let failedAt = -1;
  const failure = client.get(`coap://${SERVER.hostname}:${SERVER.port}/x`).catch((error) => {
    failedAt = clock.now();
    return error;
  });
  await clock.advance(500);
  const [request] = server.received;
  // The empty ACK goes out at 500 ms, long after the request's first retransmission would have stopped.
  server.send(`6000${request.messageId.toString(16).padStart(4, "0")}`, CLIENT);
  await clock.advance(100 * 31 + 600);
  assert.ok((await failure) instanceof TimeoutError);
  // The ACK arrives at 501 ms (the link's 1 ms delay); the separate response had 3,100 ms from then.
  assert.equal(failedAt, 501 + 100 * 31);
  client.close();
});

Deno.test("a response or notification whose token matches no request is rejected with RST", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const client = new CoapClient({ endpoint: new Endpoint(link.attach(CLIENT), { clock, seed: 2 }) });
  const server = rawPeer(link, SERVER);
  server.send("4245 7777 0102 ff6869", CLIENT); // CON 2.05, token 0102, nobody asked
  server.send("5245 7778 0102 6101 ff6869", CLIENT); // NON notification (Observe 1), token 0102
  await clock.advance(10);
  assert.deepEqual(server.received.map((m) => [m.type, m.messageId]), [[Type.RST, 0x7777], [
    Type.RST,
    0x7778,
  ]]);
  client.close();
});

Deno.test("two CONs giving up in the same timer tick: each fails, and the CON queued behind one starts and runs its own course", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock, { loss: 1 });
  const parameters = { ackRandomFactor: 1 };
  const endpoint = new Endpoint(link.attach(CLIENT), { clock, seed: 5, parameters });
  const other: Address = { hostname: "10.0.0.3", port: 5683 };
  const outcome = (promise: Promise<Message>) =>
    promise.then(() => "acknowledged", (error) => `${error.name} at ${clock.now()}`);
  const a1 = outcome(endpoint.sendConfirmable(get("a1"), endpoint.peer(SERVER)));
  const a2 = outcome(endpoint.sendConfirmable(get("a2"), endpoint.peer(SERVER)));
  const b1 = outcome(endpoint.sendConfirmable(get("b1"), endpoint.peer(other)));
  await clock.advance(200_000);
  // ACK_TIMEOUT 2 s, factor 1: give-up at 2 × (2^5 - 1) = 62 s; a2 starts then and gives up 62 s later.
  assert.deepEqual(await Promise.all([a1, a2, b1]), [
    "TimeoutError at 62000",
    "TimeoutError at 124000",
    "TimeoutError at 62000",
  ]);
  endpoint.close();
});

Deno.test("a received batch of 20 requests is answered in sends of at most 8 replies, in order", () => {
  let deliver: (batch: { data: Uint8Array; address: Address }[]) => void = () => {};
  const sends: number[][] = [];
  const transport = {
    local: { hostname: "10.0.0.1", port: 5683 },
    listen: (receive: typeof deliver) => void (deliver = receive),
    send: (batch: { data: Uint8Array; address: Address }[]) =>
      sends.push(batch.map(({ data }) => decode(data).messageId)),
    close: () => {},
  };
  const endpoint = new Endpoint(transport, { clock: new VirtualClock(), seed: 3 });
  const server = new CoapServer(new Site().add("t", { get: () => "22.5" }), { endpoint });
  const from = { hostname: "10.0.0.2", port: 40000 };
  // Uri-Path "t": option 11, length 1.
  const get = (messageId: number) => ({
    data: Uint8Array.of(0x40, Code.Get, messageId >> 8, messageId & 255, 0xb1, 0x74),
    address: from,
  });
  deliver(Array.from({ length: 20 }, (_, i) => get(100 + i)));
  assert.deepEqual(sends.map((send) => send.length), [8, 8, 4]);
  assert.deepEqual(sends.flat(), Array.from({ length: 20 }, (_, i) => 100 + i));
  server.close();
});
