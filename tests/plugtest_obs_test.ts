// The ETSI CoAP#4 plugtest's OBS test descriptions (td-coap4 block.yml, RFC 7641) against
// src/demo/plugtest_observe.ts, its resources changing every 200 ms: libcoap's coap-client observes where the
// step is "client displays", raw datagrams where the TD prescribes message types, tokens, Observe values,
// ACKs and RSTs. There is no TD_COAP_OBS_03 in td-coap4.
import assert from "node:assert/strict";
import {
  type CoapOption,
  CoapServer,
  Code,
  decodeUint,
  encodeString,
  encodeUint,
  getOption,
  type Message,
  OptionNumber,
  type ServerOptions,
  Site,
  Type,
} from "../src/mod.ts";
import { addObserveResources } from "../src/demo/plugtest_observe.ts";
import { needs, runCommand } from "./_peers.ts";
import { type RawPeer, rawPeer } from "./_raw_peer.ts";
import { startLossyRelay } from "./_lossy_relay.ts";

const CLIENT = "coap-client-notls";
const LIBCOAP = "libcoap3-bin";
const INTERVAL_MS = 200;
const TOKEN = Uint8Array.of(0x0b, 0x5e);
const TIME = /\d\d:\d\d:\d\d/g;

/** A server with only the observe resources, changing every 200 ms; `close` stops it and the timers. */
function start(options: Partial<ServerOptions> = {}, port = 0) {
  const site = new Site();
  const resources = addObserveResources(site, { interval: INTERVAL_MS });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port, ...options });
  return {
    server,
    port: server.address.port,
    base: `coap://127.0.0.1:${server.address.port}`,
    close: () => {
      server.close();
      resources.stop();
    },
  };
}

async function coapClient(args: string[]): Promise<string> {
  // -B: give up after 5 s rather than libcoap's 90 s when something goes wrong.
  const result = await runCommand(CLIENT, ["-B", "5", ...args], 15_000);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

const observeOf = (message: Message) => {
  const value = getOption(message, OptionNumber.Observe);
  return value === undefined ? undefined : decodeUint(value);
};
const contentFormatOf = (message: Message) => decodeUint(getOption(message, OptionNumber.ContentFormat)!);
const path = (segment: string) => ({ number: OptionNumber.UriPath, value: encodeString(segment) });

let nextMessageId = 0x2000;

/** A GET of /`segment` with Observe `observe` (0 registers, 1 deregisters, undefined: a plain GET). */
function get(segment: string, token: Uint8Array, observe?: number, type: Type = Type.CON) {
  const options: CoapOption[] = [path(segment)];
  if (observe !== undefined) options.unshift({ number: OptionNumber.Observe, value: encodeUint(observe) });
  return { type, code: Code.Get, messageId: nextMessageId++, token, options };
}

/** The next message for `token`, a CON one acknowledged (or reset, when `reset`). */
async function notification(peer: RawPeer, options: { reset?: boolean; timeoutMs?: number } = {}) {
  const message = await peer.next(options.timeoutMs ?? 2000);
  if (message?.type === Type.CON) {
    const type = options.reset ? Type.RST : Type.ACK;
    await peer.send({ type, code: Code.Empty, messageId: message.messageId });
  }
  return message;
}

/** RFC 7641 §4.4: V2 is newer than V1 in 24-bit sequence arithmetic. */
const newer = (v1: number, v2: number) => (v1 < v2 && v2 - v1 < 2 ** 23) || (v1 > v2 && v1 - v2 > 2 ** 23);

/** Registers for /obs with a CON GET (steps 2-3 of most OBS TDs); the ACK it got. */
async function registerObs(peer: RawPeer): Promise<Message> {
  const answer = await peer.request(get("obs", TOKEN, 0));
  assert.equal(answer.type, Type.ACK);
  assert.equal(answer.code, Code.Content);
  assert.deepEqual(answer.token, TOKEN);
  assert.equal(contentFormatOf(answer), 0);
  assert.ok(observeOf(answer) !== undefined, "the answer has Observe");
  return answer;
}

/** Steps 4-6: `count` CON notifications, 2.05, text/plain, token t, Observe increasing; each acknowledged. */
async function expectNotifications(peer: RawPeer, count: number, after: number): Promise<Message[]> {
  const received: Message[] = [];
  let last = after;
  while (received.length < count) {
    const message = await notification(peer);
    assert.ok(message, `notification ${received.length + 1} did not come`);
    assert.equal(message.type, Type.CON);
    assert.equal(message.code, Code.Content);
    assert.deepEqual(message.token, TOKEN);
    assert.equal(contentFormatOf(message), 0);
    const observe = observeOf(message)!;
    assert.ok(newer(last, observe), `Observe ${observe} after ${last}`);
    last = observe;
    received.push(message);
  }
  return received;
}

/**
 * The error that ends the observation (steps 8 of OBS_07, OBS_08): CON, `code`, token t, no Observe; the
 * notifications already on their way before it are acknowledged and passed over.
 */
async function expectEnding(peer: RawPeer, code: number): Promise<void> {
  let message = await notification(peer);
  while (message?.code === Code.Content) message = await notification(peer);
  assert.ok(message, "no ending");
  assert.equal(message.type, Type.CON);
  assert.equal(message.code, code);
  assert.deepEqual(message.token, TOKEN);
  assert.equal(observeOf(message), undefined);
}

/** Nothing arrives for three intervals. */
async function expectSilence(peer: RawPeer): Promise<void> {
  const message = await peer.next(3 * INTERVAL_MS);
  assert.equal(message, undefined, `unexpected ${message && Code[message.code as never]} after the end`);
}

Deno.test(needs("TD_COAP_OBS_01: observe /obs with CON notifications", [CLIENT], LIBCOAP), async () => {
  const { port, base, close } = start();
  const peer = rawPeer(port);
  try {
    const answer = await registerObs(peer);
    await expectNotifications(peer, 3, observeOf(answer)!);
    // Step 7: a client displays what it receives.
    const shown = (await coapClient(["-s", "1", `${base}/obs`])).match(TIME) ?? [];
    assert.ok(shown.length >= 3, `coap-client showed ${shown.length} values`);
  } finally {
    peer.close();
    close();
  }
});

Deno.test(needs("TD_COAP_OBS_02: observe /obs-non with NON notifications", [CLIENT], LIBCOAP), async () => {
  const { port, base, close } = start();
  const peer = rawPeer(port);
  try {
    const answer = await peer.request(get("obs-non", TOKEN, 0, Type.NON));
    assert.equal(answer.code, Code.Content);
    let last = observeOf(answer)!;
    for (let i = 0; i < 3; i++) {
      const message = await notification(peer);
      assert.ok(message, `notification ${i + 1} did not come`);
      assert.equal(message.type, Type.NON);
      assert.equal(message.code, Code.Content);
      assert.deepEqual(message.token, TOKEN);
      assert.equal(contentFormatOf(message), 0);
      assert.ok(newer(last, observeOf(message)!));
      last = observeOf(message)!;
    }
    const shown = (await coapClient(["-N", "-s", "1", `${base}/obs-non`])).match(TIME) ?? [];
    assert.ok(shown.length >= 3, `coap-client showed ${shown.length} values`);
  } finally {
    peer.close();
    close();
  }
});

Deno.test("TD_COAP_OBS_04: notifications carry Max-Age; after a reboot the client re-registers with its token", async () => {
  let server = start();
  const port = server.port;
  const peer = rawPeer(port);
  try {
    await registerObs(peer);
    const [first] = await expectNotifications(peer, 1, 0);
    // The client learns from Max-Age when to expect the next notification (RFC 7641 §3.3.1).
    const maxAge = decodeUint(getOption(first, OptionNumber.MaxAge)!);
    assert.ok(maxAge * 1000 >= INTERVAL_MS);
    // Steps 7-9: the server loses its observation state; no more notifications.
    server.close();
    await expectSilence(peer);
    // Steps 10-15: after Max-Age the client registers again, token t; notifications flow again.
    server = start({}, port);
    const answer = await registerObs(peer);
    await expectNotifications(peer, 2, observeOf(answer)!);
  } finally {
    peer.close();
    server.close();
  }
});

Deno.test("TD_COAP_OBS_05: the server ends an observation whose client stopped acknowledging", async () => {
  // Short retransmission timeouts, so the final timeout comes in about a second, not 93 s.
  const { server, port, close } = start({
    parameters: { ackTimeout: 100, ackRandomFactor: 1.5, maxRetransmit: 2 },
  });
  const peer = rawPeer(port);
  try {
    const answer = await registerObs(peer);
    await expectNotifications(peer, 1, observeOf(answer)!);
    // Step 8: the client is switched off; what the server sends is never acknowledged.
    const unanswered: Message[] = [];
    for (let message = await peer.next(2000); message; message = await peer.next(1000)) {
      unanswered.push(message);
    }
    assert.ok(unanswered.length >= 2, "the server retransmitted");
    const observes = unanswered.map((message) => observeOf(message)!);
    // Step 9: retransmissions carry the newer state: Observe never goes back.
    for (let i = 1; i < observes.length; i++) assert.ok(!newer(observes[i], observes[i - 1]));
    assert.ok(newer(observes[0], observes.at(-1)!), "retransmissions have an updated Observe value");
    // Step 10: after the final timeout nothing more is sent and the observation is gone.
    assert.equal(server.stats.observers, 0);
  } finally {
    peer.close();
    close();
  }
});

Deno.test("TD_COAP_OBS_06: an RST to a notification ends the observation", async () => {
  const { server, port, close } = start();
  const peer = rawPeer(port);
  try {
    const answer = await registerObs(peer);
    await expectNotifications(peer, 1, observeOf(answer)!);
    // Steps 8-11: the rebooted client does not know the token and answers the next notification with RST.
    const rejected = await notification(peer, { reset: true });
    assert.equal(rejected?.type, Type.CON);
    await expectSilence(peer);
    assert.equal(server.stats.observers, 0);
  } finally {
    peer.close();
    close();
  }
});

Deno.test(
  needs("TD_COAP_OBS_07: DELETE /obs ends its observations with 4.04", [CLIENT], LIBCOAP),
  async () => {
    const { port, base, close } = start();
    const peer = rawPeer(port);
    try {
      const answer = await registerObs(peer);
      await expectNotifications(peer, 1, observeOf(answer)!);
      // Step 7: another client deletes /obs.
      await coapClient(["-m", "delete", `${base}/obs`]);
      await expectEnding(peer, Code.NotFound);
      await expectSilence(peer);
    } finally {
      peer.close();
      close();
    }
  },
);

Deno.test(
  needs("TD_COAP_OBS_08: a PUT in another Content-Format ends the observations with 4.06", [CLIENT], LIBCOAP),
  async () => {
    const { port, base, close } = start();
    const peer = rawPeer(port);
    try {
      const answer = await registerObs(peer);
      await expectNotifications(peer, 1, observeOf(answer)!);
      // Step 7: another client updates /obs with application/json (50).
      await coapClient(["-m", "put", "-t", "50", "-e", '{"value":1}', `${base}/obs`]);
      await expectEnding(peer, Code.NotAcceptable);
      await expectSilence(peer);
    } finally {
      peer.close();
      close();
    }
  },
);

Deno.test(
  needs("TD_COAP_OBS_09: a PUT in the same Content-Format is notified", [CLIENT], LIBCOAP),
  async () => {
    const { port, base, close } = start();
    const peer = rawPeer(port);
    try {
      const answer = await registerObs(peer);
      const [first] = await expectNotifications(peer, 1, observeOf(answer)!);
      await coapClient(["-m", "put", "-t", "0", "-e", "new value", `${base}/obs`]);
      // Step 8: a CON 2.05 notification, same format, Observe increasing, the new value (perhaps after a clock
      // notification already on its way).
      let last = observeOf(first)!;
      for (;;) {
        const [message] = await expectNotifications(peer, 1, last);
        last = observeOf(message)!;
        if (new TextDecoder().decode(message.payload) === "new value") break;
      }
      // /obs keeps its value now: no further notifications until it changes again.
      await expectSilence(peer);
    } finally {
      peer.close();
      close();
    }
  },
);

Deno.test("TD_COAP_OBS_10: a GET without Observe does not cancel the observation", async () => {
  const { port, close } = start();
  const peer = rawPeer(port);
  try {
    const answer = await registerObs(peer);
    const [first] = await expectNotifications(peer, 1, observeOf(answer)!);
    // Steps 8-9: a plain GET with another token t2 gets its answer, without Observe.
    const t2 = Uint8Array.of(0x72);
    await peer.send(get("obs", t2));
    let plain = await notification(peer);
    let last = observeOf(first)!;
    while (plain && plain.type === Type.CON) {
      // a notification crossing the GET
      last = observeOf(plain)!;
      plain = await notification(peer);
    }
    assert.ok(plain);
    assert.equal(plain.type, Type.ACK);
    assert.equal(plain.code, Code.Content);
    assert.deepEqual(plain.token, t2);
    assert.equal(contentFormatOf(plain), 0);
    assert.equal(observeOf(plain), undefined);
    // Steps 10-12: the notifications for t still arrive.
    await expectNotifications(peer, 2, last);
  } finally {
    peer.close();
    close();
  }
});

Deno.test("TD_COAP_OBS_11: CON notifications over a lossy link, never two in flight at once", async () => {
  const { server, port, close } = start({
    parameters: { ackTimeout: 150, ackRandomFactor: 1.5, maxRetransmit: 4 },
  });
  const relay = startLossyRelay(port, { loss: 0, seed: 11 });
  const peer = rawPeer(relay.port);
  try {
    const answer = await registerObs(peer);
    relay.setLoss(0.3);
    const seen = new Set<number>();
    let last = observeOf(answer)!;
    let inFlight = 0;
    const deadline = Date.now() + 10_000;
    while (seen.size < 5 && Date.now() < deadline) {
      inFlight = Math.max(inFlight, server.stats.notificationsInFlight);
      const message = await notification(peer, { timeoutMs: 200 });
      // A duplicate (a retransmission whose ACK was lost) is acknowledged again but is no new state.
      if (message === undefined || seen.has(message.messageId)) continue;
      seen.add(message.messageId);
      assert.equal(message.type, Type.CON);
      assert.deepEqual(message.token, TOKEN);
      const observe = observeOf(message)!;
      assert.ok(newer(last, observe), `Observe ${observe} after ${last}`);
      last = observe;
    }
    assert.equal(seen.size, 5, `${seen.size} notifications in 10 s`);
    assert.ok(relay.dropped > 0, "the relay dropped something");
    // Step 8: never multiple notifications active at one time.
    assert.ok(inFlight <= 1, `${inFlight} notifications in flight`);
  } finally {
    peer.close();
    relay.close();
    close();
  }
});

Deno.test("TD_COAP_OBS_12: a GET with Observe = 1 cancels the observation", async () => {
  const { server, port, close } = start();
  const peer = rawPeer(port);
  try {
    const answer = await registerObs(peer);
    await expectNotifications(peer, 1, observeOf(answer)!);
    // Steps 8-9: GET, token t, Observe 1: a 2.05 without Observe.
    await peer.send(get("obs", TOKEN, 1));
    let cancelled = await notification(peer);
    while (cancelled?.type === Type.CON) cancelled = await notification(peer);
    assert.ok(cancelled);
    assert.equal(cancelled.type, Type.ACK);
    assert.equal(cancelled.code, Code.Content);
    assert.deepEqual(cancelled.token, TOKEN);
    assert.equal(observeOf(cancelled), undefined);
    // Step 10: no further notifications.
    await expectSilence(peer);
    assert.equal(server.stats.observers, 0);
  } finally {
    peer.close();
    close();
  }
});

/** A line libcoap logs to stdout, e.g. "cannot send CoAP pdu" for the block request `-s` ends too early. */
const LIBCOAP_LOG =
  /[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} (EMRG|ALRT|CRIT|ERR |WARN|NOTE|INFO|DEBG)[^\n]*\n/g;

/**
 * What coap-client printed, without its log lines, its closing newline and the start of a block-wise
 * transfer that `-s` cut off (every representation with blocks begins with padding, a bare time has none).
 */
const withoutCutOff = (shown: string) =>
  shown.replace(LIBCOAP_LOG, "").replace(/\n$/, "").replace(/-[-\n\d: ]*$/, "");

/** One /obs-large representation: 10 padding lines, the time, 10 padding lines. */
const LARGE = /(-{63}\n){9}-{63}\n\d\d:\d\d:\d\d\n(-{63}\n){9}-{63}\n/g;

Deno.test(
  needs("TD_COAP_OBS_13: observe /obs-large, each notification in Block2 blocks", [CLIENT], LIBCOAP),
  async () => {
    const { base, close } = start();
    try {
      // coap-client gets block 0 with each notification and fetches the rest (RFC 7959 §3.4).
      const shown = await coapClient(["-s", "1", "-b", "64", `${base}/obs-large`]);
      const complete = shown.match(LARGE) ?? [];
      assert.ok(complete.length >= 3, `${complete.length} complete representations`);
      assert.equal(withoutCutOff(shown.replace(LARGE, "")), "", "nothing but complete representations");
    } finally {
      close();
    }
  },
);

Deno.test(
  needs("TD_COAP_OBS_14: observe /obs-pumping, notifications of varying size", [CLIENT], LIBCOAP),
  async () => {
    const { base, close } = start();
    try {
      // Two seconds: a large one needs 21 blocks fetched before the next change (every 40 ms) replaces it,
      // which a loaded machine can miss for a second.
      const shown = await coapClient(["-s", "2", "-b", "64", `${base}/obs-pumping`]);
      // Larger than a 1024-byte block, two 64-byte blocks, and the bare time (8 bytes): all arrive whole.
      assert.ok((shown.match(LARGE) ?? []).length >= 1, "a large notification");
      const framed = /-{31}\n {11}\d\d:\d\d:\d\d\n-{31}\n/g;
      assert.ok((shown.match(framed) ?? []).length >= 1, "an 84-byte notification");
      const rest = shown.replace(LARGE, "").replace(framed, "");
      assert.match(withoutCutOff(rest), /^(\d\d:\d\d:\d\d)*$/, "the rest are bare times");
    } finally {
      close();
    }
  },
);
