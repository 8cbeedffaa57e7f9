// Observe (RFC 7641): the lab's every-5th-CON pattern read off the wire,
// every way an observation ends, the newer-state-replaces-retransmission rule
// and the client's freshness and re-registration rules on the virtual clock.
import assert from "node:assert/strict";
import {
  type Address,
  CoapClient,
  CoapError,
  type CoapOption,
  CoapServer,
  Code,
  decode,
  decodeUint,
  DEFAULT_PARAMETERS,
  encode,
  encodeBlock,
  encodeUint,
  Endpoint,
  maxTransmitSpan,
  maxTransmitWait,
  MemoryLink,
  type Message,
  observable,
  type ObservationEvent,
  OptionNumber,
  type ServerOptions,
  Site,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { DEFAULT_OBSERVE_LIMITS } from "../src/server/limits.ts";
import { bytes } from "./_hex.ts";
import { injectedTransport } from "./_injected_transport.ts";
import { runProbe } from "./_memory.ts";
import { silentObservers } from "./_silent_observers.ts";

const CLIENT: Address = { hostname: "10.0.0.1", port: 40000 };
const SERVER: Address = { hostname: "10.0.0.2", port: 5683 };
const TOKEN = "c0ffee01";
/** CON GET /value, Observe = 0, token c0ffee01. */
const REGISTER = (messageId: string) => `4401${messageId}${TOKEN}60` + "55" + "76616c7565";
const mb = (n: number) => (n / 1048576).toFixed(2);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const observeOf = (m: Message) => {
  const value = m.options.find((o) => o.number === OptionNumber.Observe)?.value;
  return value === undefined ? undefined : decodeUint(value);
};

/** A raw UDP observer on 127.0.0.1 that records what it receives. */
function rawSocket() {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const received: Message[] = [];
  const reading = (async () => {
    for await (const [data] of socket) received.push(decode(data));
  })().catch(() => {});
  return {
    received,
    send: (hex: string, port: number) =>
      socket.send(bytes(hex), { transport: "udp", hostname: "127.0.0.1", port }),
    close: async () => {
      socket.close();
      await reading;
    },
  };
}

function counterSite(conEvery = 5) {
  let value = 0;
  const resource = observable({ get: () => `${value}` }, { conEvery });
  return {
    site: new Site().add("value", resource),
    step: () => {
      value++;
      resource.changed();
    },
  };
}

Deno.test("the lab's pattern on the wire: one token, fresh Message IDs, every 5th notification CON and ACKed, the rest NON", async () => {
  const { site, step } = counterSite();
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const observer = rawSocket();
  try {
    await observer.send(REGISTER("0001"), server.address.port);
    await pause(50);
    for (let i = 1; i <= 10; i++) {
      step();
      // Each state waits for the previous notification, and for the ACK of a CON: a newer state
      // arriving while a CON is unacknowledged would (rightly) replace it as a CON.
      for (let wait = 0; observer.received.length < i + 1 && wait < 100; wait++) await pause(10);
      const latest = observer.received.at(-1)!;
      if (latest.type === Type.CON) {
        await observer.send(`6000${latest.messageId.toString(16).padStart(4, "0")}`, server.address.port);
        await pause(30);
      }
    }
    await pause(50);
    const [registration, ...notifications] = observer.received.filter((m) => m.code === Code.Content);
    assert.equal(registration.type, Type.ACK);
    assert.equal(observeOf(registration), 0);
    assert.equal(notifications.length, 10, "each CON was ACKed, so none was retransmitted");
    assert.ok(notifications.every((m) => m.token.every((byte, i) => byte === bytes(TOKEN)[i])));
    assert.equal(new Set(notifications.map((m) => m.messageId)).size, 10);
    assert.deepEqual(notifications.map((m) => m.type === Type.CON ? "CON" : "NON"), [
      "NON",
      "NON",
      "NON",
      "NON",
      "CON",
      "NON",
      "NON",
      "NON",
      "NON",
      "CON",
    ]);
    assert.deepEqual(notifications.map(observeOf), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(notifications.map((m) => new TextDecoder().decode(m.payload)), [
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "8",
      "9",
      "10",
    ]);
    assert.equal(server.observerCount, 1);
  } finally {
    await observer.close();
    server.close();
  }
});

Deno.test("an RST answering a NON notification, or a CON one, ends the observation", async () => {
  for (const conEvery of [0, 1]) {
    const { site, step } = counterSite(conEvery);
    const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
    const observer = rawSocket();
    try {
      await observer.send(REGISTER("0002"), server.address.port);
      await pause(50);
      assert.equal(server.observerCount, 1);
      step();
      await pause(50);
      const notification = observer.received.at(-1)!;
      assert.equal(notification.type, conEvery === 1 ? Type.CON : Type.NON);
      await observer.send(`7000${notification.messageId.toString(16).padStart(4, "0")}`, server.address.port);
      await pause(50);
      assert.equal(server.observerCount, 0);
      step();
      await pause(50);
      assert.equal(observer.received.at(-1), notification, "no notification after the RST");
    } finally {
      await observer.close();
      server.close();
    }
  }
});

Deno.test("leaving the loop deregisters with GET Observe=1", async () => {
  const { site, step } = counterSite();
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const client = new CoapClient();
  try {
    const observation = await client.observe(`coap://127.0.0.1:${server.address.port}/value`);
    assert.equal(observation.response.text(), "0");
    assert.equal(server.observerCount, 1);
    const ticker = setInterval(step, 20);
    const seen: string[] = [];
    for await (const notification of observation) {
      seen.push(notification.text());
      if (seen.length === 3) break;
    }
    clearInterval(ticker);
    assert.deepEqual(seen, ["1", "2", "3"]);
    assert.equal(server.observerCount, 0);
    assert.equal(observation.active, false);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("an error from the GET handler ends the observation with that error, without Observe", async () => {
  let broken = false;
  const resource = observable({
    get: () => {
      if (broken) throw new CoapError(Code.NotFound, "sensor removed");
      return "ok";
    },
  });
  const server = new CoapServer(new Site().add("value", resource), { hostname: "127.0.0.1", port: 0 });
  const client = new CoapClient();
  try {
    const observation = await client.observe(`coap://127.0.0.1:${server.address.port}/value`);
    broken = true;
    resource.changed();
    const received = [];
    for await (const notification of observation) received.push(notification);
    assert.equal(received.length, 1);
    assert.deepEqual([received[0].codeString, received[0].text()], ["4.04", "sensor removed"]);
    assert.equal(received[0].option(OptionNumber.Observe), undefined);
    assert.equal(server.observerCount, 0);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("observer limits: beyond them, a GET with Observe gets a plain response", async () => {
  const { site } = counterSite();
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0, observeLimits: { perPeer: 1 } });
  const client = new CoapClient();
  try {
    const uri = `coap://127.0.0.1:${server.address.port}/value`;
    const first = await client.observe(uri);
    const second = await client.observe(uri);
    assert.equal(first.active, true);
    assert.equal(second.active, false);
    assert.equal(second.response.codeString, "2.05");
    assert.equal(server.observerCount, 1);
    await first.cancel();
  } finally {
    client.close();
    server.close();
  }
});

/** A server on the in-memory link with a raw peer registered as an observer that never ACKs. */
async function virtualObservation(conEvery: number) {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const { site, step } = counterSite(conEvery);
  const server = new CoapServer(site, { endpoint: new Endpoint(link.attach(SERVER), { clock, seed: 42 }) });
  const peer = link.attach(CLIENT);
  peer.listen(() => {});
  peer.send([{ data: bytes(REGISTER("0003")), address: SERVER }]);
  await clock.advance(10);
  const sent = () =>
    link.log.filter((e) => e.to.port === CLIENT.port).map((e) => ({ at: e.at, ...decode(e.data) }));
  const notifications = () => sent().filter((m) => m.type === Type.CON);
  let pings = 0;
  /** An empty CON (RFC 7252 §4.3): the server answers RST, and has heard from the observer. */
  const ping = () =>
    peer.send([{ data: bytes(`4000${(++pings).toString(16).padStart(4, "0")}`), address: SERVER }]);
  return { clock, server, step, notifications, sent, ping };
}

Deno.test("a CON notification never ACKed: retransmitted MAX_RETRANSMIT times, then the observation ends", async () => {
  const { clock, server, step, notifications } = await virtualObservation(1);
  assert.equal(server.observerCount, 1);
  step();
  await clock.advance(100_000);
  const sent = notifications();
  assert.equal(sent.length, 5);
  assert.ok(sent.every((m) => m.messageId === sent[0].messageId));
  assert.equal(server.observerCount, 0);
  server.close();
});

Deno.test("a newer state takes over the notification being retransmitted: new MID, sent at its next retransmission time (RFC 7641 §4.5.2)", async () => {
  const { clock, server, step, notifications } = await virtualObservation(1);
  step(); // value 1, sent at t = 10
  await clock.advance(1000);
  step(); // value 2 while value 1 is still unacknowledged: it waits for value 1's retransmission timer
  await clock.advance(100_000);
  const sent = notifications();
  const text = (m: Message) => new TextDecoder().decode(m.payload);
  assert.deepEqual(sent.map(text), ["1", "2", "2", "2", "2"]);
  assert.notEqual(sent[1].messageId, sent[0].messageId);
  assert.ok(sent.slice(1).every((m) => m.messageId === sent[1].messageId));
  const firstTimeout = sent[1].at - sent[0].at;
  assert.ok(
    firstTimeout >= 2000 && firstTimeout <= 3000,
    `the replacement went out when value 1 would have been retransmitted (${firstTimeout} ms)`,
  );
  assert.deepEqual(
    sent.slice(1).map((m) => m.at - sent[0].at),
    [1, 3, 7, 15].map((k) => k * firstTimeout),
    "four retransmissions in all, on the original schedule",
  );
  assert.equal(server.observerCount, 0);
  server.close();
});

/** Our client on the link, observing a raw server that sends whatever the test scripts. */
async function scriptedServer() {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const client = new CoapClient({ endpoint: new Endpoint(link.attach(CLIENT), { clock, seed: 7 }) });
  const requests: Message[] = [];
  const server = link.attach(SERVER);
  server.listen((batch) => batch.forEach(({ data }) => requests.push(decode(data))));
  const notify = (
    sequence: number,
    text: string,
    maxAge = 60,
    type: Type = Type.NON,
    messageId = (0x100 + sequence) & 0xffff,
  ) =>
    server.send([{
      data: encode({
        type,
        code: Code.Content,
        messageId,
        token: requests[0].token,
        options: [
          { number: OptionNumber.Observe, value: encodeUint(sequence) },
          { number: OptionNumber.MaxAge, value: encodeUint(maxAge) },
        ],
        payload: new TextEncoder().encode(text),
      }),
      address: CLIENT,
    }]);
  const pending = client.observe(`coap://${SERVER.hostname}:${SERVER.port}/value`);
  await clock.advance(5);
  return { clock, client, requests, notify, pending };
}

Deno.test("the client drops stale notifications by 24-bit sequence, and takes any after 128 s", async () => {
  const { clock, client, requests, notify, pending } = await scriptedServer();
  notify(5, "five", 600, Type.ACK, requests[0].messageId); // the piggybacked response to the registration
  await clock.advance(5);
  const observation = await pending;
  assert.equal(observation.response.text(), "five");
  const iterator = observation[Symbol.asyncIterator]();
  notify(3, "three (older)");
  notify(6, "six");
  notify((1 << 24) - 1, "wrapped far back: older");
  await clock.advance(5);
  assert.equal((await iterator.next()).value?.text(), "six");
  await clock.advance(130_000);
  notify(2, "two, but 128 s later");
  await clock.advance(5);
  assert.equal((await iterator.next()).value?.text(), "two, but 128 s later");
  client.close();
});

Deno.test("no notification within Max-Age: the client registers again with the same token", async () => {
  const { clock, client, requests, notify, pending } = await scriptedServer();
  notify(1, "first", 1, Type.ACK, requests[0].messageId);
  await clock.advance(5);
  await pending;
  assert.equal(requests.length, 1);
  await clock.advance(3500);
  assert.equal(requests.length, 2);
  assert.deepEqual(requests[1].token, requests[0].token);
  assert.equal(observeOf(requests[1]), 0);
  client.close();
});

Deno.test("even with an all-NON policy, a notification is Confirmable once 24 hours have passed (RFC 7641 §4.5)", async () => {
  const { clock, server, step, sent, ping } = await virtualObservation(0);
  const hour = 60 * 60 * 1000;
  step();
  await clock.advance(hour);
  // The observer pings now and then: it is there, so the server has no cause to check with a CON.
  ping();
  await clock.advance(10);
  step();
  await clock.advance(23 * hour);
  ping();
  await clock.advance(10);
  step();
  await clock.advance(10);
  const types = sent().filter((m) => observeOf(m) !== undefined && m.code === Code.Content).map((m) =>
    m.type
  );
  // The registration's ACK, two NONs within the day, then a CON at 24 h.
  assert.deepEqual(types, [Type.ACK, Type.NON, Type.NON, Type.CON]);
  server.close();
});

/**
 * Our client on the link against a raw server that the test plays: `answer` sees each request and returns
 * the responses (none for silence); `send` pushes a notification.
 */
function playedServer(answer: (request: Message) => Omit<Message, "messageId" | "token">[] = () => []) {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const endpoint = new Endpoint(link.attach(CLIENT), { clock, seed: 11 });
  const client = new CoapClient({ endpoint });
  const requests: { at: number; message: Message }[] = [];
  const server = link.attach(SERVER);
  let messageId = 0x7000;
  const send = (message: Omit<Message, "messageId" | "token">, token: Uint8Array, replyTo?: Message) =>
    server.send([{
      data: encode({ ...message, token, messageId: replyTo?.messageId ?? messageId++ }),
      address: CLIENT,
    }]);
  server.listen((batch) => {
    for (const { data } of batch) {
      const message = decode(data);
      requests.push({ at: clock.now(), message });
      if (message.code !== Code.Empty) {
        for (const response of answer(message)) send(response, message.token, message);
      }
    }
  });
  return { clock, client, endpoint, requests, send };
}

/** A 2.05 with Observe, Max-Age and the given further options; ACK (to a request) or NON. */
function content(
  sequence: number,
  text: string | Uint8Array,
  maxAge: number,
  type: Type = Type.NON,
  more: CoapOption[] = [],
) {
  return {
    type,
    code: Code.Content,
    options: [
      { number: OptionNumber.Observe, value: encodeUint(sequence) },
      { number: OptionNumber.MaxAge, value: encodeUint(maxAge) },
      ...more,
    ],
    payload: typeof text === "string" ? new TextEncoder().encode(text) : text,
  };
}

const EMPTY = new Uint8Array(0);
const isRegistration = (m: Message) => observeOf(m) === 0 && m.code === Code.Get;

Deno.test("a notification storm with Block2 M=1: one follow-up fetch at a time, a newer notification cancels the older one's", async () => {
  const block = (num: number, more: boolean): CoapOption => ({
    number: OptionNumber.Block2,
    value: encodeBlock({ num, more, szx: 6 }),
  });
  const etag = (n: number): CoapOption => ({ number: OptionNumber.ETag, value: Uint8Array.of(n) });
  let sent = 0;
  const { clock, client, requests, send } = playedServer((request) => {
    if (isRegistration(request)) return [content(0, "0", 60, Type.ACK)];
    if (observeOf(request) === 1) {
      return [{ type: Type.ACK, code: Code.Content, options: [], payload: EMPTY }];
    }
    // A block fetch is answered 20 ms later: by then the next notification has made it moot, except the last.
    const of = sent;
    clock.setTimer(() => {
      send(
        {
          type: Type.ACK,
          code: Code.Content,
          options: [etag(of), block(1, false)],
          payload: new TextEncoder().encode(`rest of ${of}`),
        },
        request.token,
        request,
      );
    }, 20);
    return [];
  });
  const pending = client.observe(`coap://${SERVER.hostname}:${SERVER.port}/big`);
  await clock.advance(5);
  const observation = await pending;
  const token = requests[0].message.token;
  for (sent = 1; sent <= 100; sent++) {
    send(content(sent, new Uint8Array(1024), 60, Type.NON, [etag(sent), block(0, true)]), token);
    await clock.advance(10);
  }
  await clock.advance(300_000);
  const fetches = requests.filter((r) => r.message.options.some((o) => o.number === OptionNumber.Block2));
  assert.equal(fetches.length, 100, "one fetch per notification");
  assert.equal(
    new Set(fetches.map((r) => r.message.messageId)).size,
    100,
    "none retransmitted: the moot ones were cancelled",
  );
  const iterator = observation[Symbol.asyncIterator]();
  const whole = (await iterator.next()).value!;
  assert.equal(observeOf(whole.message), 100, "only the newest notification is completed");
  assert.equal(whole.payload.length, 1024 + "rest of 100".length);
  const cancelled = observation.cancel();
  await clock.advance(5);
  await cancelled;
  assert.equal(observeOf(requests.at(-1)!.message), 1, "deregistered");
  client.close();
});

Deno.test("a server down for 100 s: re-registration keeps trying with back-off, reports each attempt, and resumes", async () => {
  let down = false;
  const { clock, client, requests, send } = playedServer((request) => {
    if (down || !isRegistration(request)) return [];
    // Up again after the outage it restarted: its sequence numbers start low.
    return [
      requests.length === 1 ? content(1000, "registered", 1, Type.ACK) : content(5, "back", 60, Type.ACK),
    ];
  });
  const pending = client.observe(`coap://${SERVER.hostname}:${SERVER.port}/value`);
  await clock.advance(5);
  const observation = await pending;
  const events: ObservationEvent[] = [];
  observation.onEvent = (event) => events.push(event);
  down = true;
  await clock.advance(100_000);
  down = false;
  // Max-Age 1 s + 2 s slack, then doubling: attempts at 3, 9, 21, 45 and 93 s; the fifth one's
  // retransmissions reach the server once it is back.
  assert.deepEqual(
    events.map((event) =>
      event.type === "reregister" && [event.attempt, event.silentMs, event.nextAttemptMs]
    ),
    [[1, 3000, 6000], [2, 9000, 12000], [3, 21000, 24000], [4, 45000, 48000], [5, 93000, 96000]],
  );
  await clock.advance(20_000);
  const attempts = requests.filter((r) => isRegistration(r.message));
  assert.ok(attempts.every((r) => r.message.token.join() === requests[0].message.token.join()), "same token");
  const iterator = observation[Symbol.asyncIterator]();
  const resumed = (await iterator.next()).value!;
  assert.equal(observeOf(resumed.message), 5, "the restarted server's lower number is taken");
  // Its notifications flow again and are taken in its own order.
  const token = requests[0].message.token;
  send(content(6, "six", 60), token);
  send(content(4, "four: older in this registration", 60), token);
  send(content(7, "seven", 60), token);
  await clock.advance(5);
  assert.equal((await iterator.next()).value?.text(), "six");
  assert.equal((await iterator.next()).value?.text(), "seven");
  assert.equal(events.length, 5, "no attempt while notifications come");
  client.close();
});

Deno.test("a server restarted within Max-Age: the re-registration's answer and the notifications after it are not dropped as stale", async () => {
  let restarted = false;
  const { clock, client, requests, send } = playedServer((request) =>
    isRegistration(request)
      ? [content(restarted ? 2 : 5000, restarted ? "after restart" : "first", 1, Type.ACK)]
      : []
  );
  const pending = client.observe(`coap://${SERVER.hostname}:${SERVER.port}/value`);
  await clock.advance(5);
  const observation = await pending;
  const iterator = observation[Symbol.asyncIterator]();
  const token = requests[0].message.token;
  restarted = true; // it forgot its observers and counts from 0 again
  await clock.advance(3010);
  assert.equal(
    requests.filter((r) => isRegistration(r.message)).length,
    2,
    "re-registered after Max-Age + 2 s",
  );
  assert.equal((await iterator.next()).value?.text(), "after restart");
  send(content(3, "three", 60), token);
  await clock.advance(5);
  assert.equal(
    (await iterator.next()).value?.text(),
    "three",
    "3 s after 5000, yet fresh: a new registration",
  );
  client.close();
});

Deno.test("closing the client ends its observations: no re-registration timer outlives it, no token stays open", async () => {
  const { clock, client, requests } = playedServer((request) =>
    isRegistration(request) ? [content(1, "one", 60, Type.ACK)] : []
  );
  const pending = client.observe(`coap://${SERVER.hostname}:${SERVER.port}/value`);
  await clock.advance(5);
  const observation = await pending;
  assert.equal(observation.active, true);
  client.close();
  assert.equal(observation.active, false);
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(600_000);
  assert.equal(requests.length, 1, "neither a re-registration nor a deregistration on a closed client");
});

Deno.test("an observation the server ended forgets its token: a later notification gets RST (RFC 7641 §3.6)", async () => {
  const { clock, client, requests, send } = playedServer((request) =>
    isRegistration(request) ? [content(1, "one", 60, Type.ACK)] : []
  );
  const pending = client.observe(`coap://${SERVER.hostname}:${SERVER.port}/value`);
  await clock.advance(5);
  const observation = await pending;
  const token = requests[0].message.token;
  send({ type: Type.NON, code: Code.NotFound, options: [], payload: EMPTY }, token);
  await clock.advance(5);
  assert.equal(observation.active, false);
  send(content(2, "two", 60), token);
  await clock.advance(5);
  assert.equal(requests.at(-1)!.message.type, Type.RST);
  client.close();
});

Deno.test("64 Observe registrations from one silent port: one notification in flight at a time, the server stops sending within its first CON notification + MAX_TRANSMIT_WAIT, and memory returns", async () => {
  const run = await runProbe("./_silent_observers_probe.ts");
  const wait = maxTransmitWait(DEFAULT_PARAMETERS);
  console.log(
    `64 silent observers: ${run.bytesIn} B in, ${run.bytesOut} B in ${run.datagramsOut} datagrams out, ` +
      `first CON at ${run.firstConfirmableAt / 1000} s, last datagram at ${run.lastSentAt / 1000} s; ` +
      `memory ${mb(run.before)} → ${mb(run.registered)} → ${mb(run.after)} MB`,
  );
  assert.equal(run.maxInFlight, 1, "one notification in flight to the peer");
  assert.ok(run.maxWaiting <= 63, `${run.maxWaiting} waiting: one per observation at most`);
  assert.ok(run.lastSentAt <= run.firstConfirmableAt + wait, `last datagram at ${run.lastSentAt} ms`);
  assert.ok(run.lastSentAt <= 120_000);
  assert.deepEqual([run.observers, run.pinnedPeers, run.outstanding], [0, 0, 0], "every observation ended");
  assert.ok(run.after - run.before < 5 * 1024 * 1024, `memory grew ${mb(run.after - run.before)} MB`);
});

Deno.test("one CON Observe registration from a silent port gets at most 12× its bytes back in all", async () => {
  const run = await silentObservers(1, 300_000);
  const ratio = run.bytesOut / run.bytesIn;
  console.log(
    `1 silent observer: ${run.bytesIn} B in, ${run.bytesOut} B in ${run.datagramsOut} datagrams out ` +
      `(${ratio.toFixed(1)}×), last at ${run.lastSentAt / 1000} s`,
  );
  assert.ok(ratio <= 12, `${ratio.toFixed(1)}× its bytes`);
  assert.equal(run.observers, 0);
});

/** A server on an injected transport and a virtual clock, with /value (a counter) and /other observable. */
function injectedServer(conEvery: number, options: ServerOptions = {}) {
  const clock = new VirtualClock();
  const wire = injectedTransport(undefined, clock);
  const { site, step } = counterSite(conEvery);
  const other = observable({ get: () => "other" }, { conEvery });
  site.add("other", other);
  const endpoint = new Endpoint(wire.transport, { clock, seed: 5, limits: SERVER_LIMITS });
  const server = new CoapServer(site, { endpoint, ...options });
  const register = (from: Address, token: number, path = "value", messageId = token) =>
    wire.inject(
      from,
      encode({
        type: Type.CON,
        code: Code.Get,
        messageId,
        token: Uint8Array.of(0xee, token >> 16, token >> 8, token),
        options: [
          { number: OptionNumber.Observe, value: new Uint8Array(0) },
          { number: OptionNumber.UriPath, value: new TextEncoder().encode(path) },
        ],
        payload: new Uint8Array(0),
      }),
    );
  const ack = (from: Address, messageId: number) =>
    wire.inject(from, bytes(`6000${messageId.toString(16).padStart(4, "0")}`));
  const to = (address: Address) =>
    wire.sent.filter((d) => d.to.hostname === address.hostname && d.to.port === address.port);
  return { clock, wire, server, endpoint, step, other, register, ack, to };
}

const text = (m: Message) => new TextDecoder().decode(m.payload);

Deno.test("a peer's observations share one notification in flight; each waits with its newest state only", async () => {
  const { clock, server, step, register, ack, to } = injectedServer(1);
  const peer = { hostname: "10.3.0.1", port: 40000 };
  register(peer, 1);
  register(peer, 2);
  assert.equal(server.observerCount, 2);
  const notifications = () => to(peer).filter((d) => d.message.type === Type.CON);
  step(); // value 1: the first observation's CON goes, the second's waits
  await clock.advance(10);
  assert.deepEqual(notifications().map((d) => [d.message.token[3], text(d.message)]), [[1, "1"]]);
  step();
  step(); // values 2 and 3: the CON in flight takes the newest, the waiting one is replaced
  await clock.advance(10);
  assert.equal(notifications().length, 1, "nothing more until the CON in flight is answered");
  assert.deepEqual(server.stats.notificationsWaiting, 1);
  await clock.advance(3000); // the first retransmission time: value 3 in place of value 1
  const replaced = notifications().at(-1)!;
  assert.deepEqual([replaced.message.token[3], text(replaced.message)], [1, "3"]);
  ack(peer, replaced.message.messageId);
  await clock.advance(10);
  const second = notifications().at(-1)!;
  assert.deepEqual(
    [second.message.token[3], text(second.message)],
    [2, "3"],
    "the waiting one, newest state",
  );
  assert.ok(!notifications().some((d) => d.message.token[3] === 2 && text(d.message) !== "3"));
  ack(peer, second.message.messageId);
  await clock.advance(10);
  assert.deepEqual(
    [server.stats.notificationsWaiting, server.stats.notificationsInFlight, server.observerCount],
    [0, 0, 2],
  );
  server.close();
});

Deno.test("a peer silent for MAX_TRANSMIT_SPAN gets Confirmable notifications only; when one times out, every observation of that peer ends", async () => {
  const { clock, server, step, other, register, to } = injectedServer(0); // all NON by policy
  const silent = { hostname: "10.4.0.1", port: 40000 };
  register(silent, 1);
  register(silent, 2);
  register(silent, 3, "other");
  const span = maxTransmitSpan(DEFAULT_PARAMETERS);
  for (let t = 0; t < span + maxTransmitWait(DEFAULT_PARAMETERS) + 10_000; t += 1000) {
    step();
    other.changed();
    await clock.advance(1000);
  }
  const notifications = to(silent).filter((d) =>
    d.message.code === Code.Content && d.message.type !== Type.ACK
  );
  const firstConfirmable = notifications.findIndex((d) => d.message.type === Type.CON);
  assert.ok(
    notifications.slice(0, firstConfirmable).every((d) => d.at! < span),
    "NON while it may still answer",
  );
  assert.ok(notifications[firstConfirmable].at! >= span);
  assert.ok(notifications.slice(firstConfirmable).every((d) => d.message.type === Type.CON));
  // One CON in flight, newer states taking over its retransmissions: five transmissions, then it is over.
  assert.equal(notifications.length - firstConfirmable, 1 + DEFAULT_PARAMETERS.maxRetransmit);
  assert.equal(server.observerCount, 0, "the CON timed out: the peer is gone, with all three observations");
  server.close();
});

Deno.test("observer limits per IP address (across ports), per resource and in all: beyond them a GET with Observe gets a plain 2.05", () => {
  const observing = (server: CoapServer) => server.observerCount;
  const lastAnswer = (wire: { sent: { message: Message }[] }) => wire.sent.at(-1)!.message;
  {
    // One host re-registering from 1,000 ports takes 256 observations; another host still gets one.
    const { server, wire, register } = injectedServer(5);
    for (let port = 1; port <= 1000; port++) register({ hostname: "10.5.0.1", port }, port);
    assert.equal(observing(server), DEFAULT_OBSERVE_LIMITS.perAddress);
    const refused = lastAnswer(wire);
    assert.deepEqual([refused.code, observeOf(refused)], [Code.Content, undefined]);
    register({ hostname: "10.5.0.2", port: 40000 }, 1);
    assert.equal(observeOf(lastAnswer(wire)), 0);
    assert.equal(observing(server), DEFAULT_OBSERVE_LIMITS.perAddress + 1);
    server.close();
  }
  {
    const { server, wire, register } = injectedServer(5, { observeLimits: { perResource: 2, total: 3 } });
    for (let i = 1; i <= 3; i++) register({ hostname: `10.6.0.${i}`, port: 40000 }, i);
    assert.equal(observing(server), 2);
    assert.deepEqual([lastAnswer(wire).code, observeOf(lastAnswer(wire))], [Code.Content, undefined]);
    register({ hostname: "10.6.0.4", port: 40000 }, 4, "other");
    assert.equal(observeOf(lastAnswer(wire)), 0);
    register({ hostname: "10.6.0.5", port: 40000 }, 5, "other");
    assert.deepEqual([lastAnswer(wire).code, observeOf(lastAnswer(wire))], [Code.Content, undefined]);
    assert.equal(observing(server), 3, "three in all");
    server.close();
  }
});

Deno.test("an observation of a resource that never changes is checked with a CON after a day: a silent client's ends, one that answers stays", async () => {
  const { clock, server, register, ack, to } = injectedServer(5);
  const silent = { hostname: "10.8.0.1", port: 40000 };
  const present = { hostname: "10.8.0.2", port: 40000 };
  register(silent, 1, "other");
  register(present, 2, "other");
  const hour = 60 * 60 * 1000;
  await clock.advance(24 * hour - 1);
  assert.equal(to(silent).length, 1, "nothing but the registration's answer for a day");
  await clock.advance(10); // the hourly look-over at 24 h finds both a day old
  for (const peer of [silent, present]) {
    const check = to(peer).at(-1)!.message;
    assert.deepEqual([check.type, text(check), observeOf(check)], [Type.CON, "other", 0]);
  }
  ack(present, to(present).at(-1)!.message.messageId);
  await clock.advance(maxTransmitWait(DEFAULT_PARAMETERS));
  assert.equal(server.observerCount, 1, "the silent client's observation ended");
  assert.equal(to(present).length, 2);
  server.close();
});

Deno.test("terminate(code) sends every observer that error without Observe and ends the observations (RFC 7641 §3.2)", async () => {
  const document = observable({ get: () => "v1" });
  const server = new CoapServer(new Site().add("doc", document), { hostname: "127.0.0.1", port: 0 });
  const client = new CoapClient();
  try {
    const uri = `coap://127.0.0.1:${server.address.port}/doc`;
    const observations = [await client.observe(uri), await client.observe(uri)];
    assert.equal(server.observerCount, 2);
    assert.throws(() => document.terminate(Code.Content), RangeError);
    document.terminate(Code.NotFound, "deleted");
    for (const observation of observations) {
      const seen: string[] = [];
      for await (const notification of observation) {
        seen.push(
          `${notification.codeString} ${notification.text()} ${notification.option(OptionNumber.Observe)}`,
        );
      }
      assert.deepEqual(seen, ["4.04 deleted undefined"]);
      assert.equal(observation.active, false);
    }
    assert.equal(server.observerCount, 0);
  } finally {
    client.close();
    server.close();
  }
});
