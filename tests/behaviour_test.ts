// One behaviour suite, two servers (issue 10): the same cases, with raw
// datagrams so every byte is controlled, against the Deno demo server and
// against the sensor node under QEMU, which runs the wasm2c translation of
// the same core.wasm. Where both must answer alike the expected bytes are
// spelled out once; the differences that stay are listed in DIFFERENCES.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  Code,
  ContentFormat,
  decode,
  decodeUint,
  encode,
  encodeBlock,
  encodeString,
  encodeUint,
  getOption,
  type Message,
  OptionNumber,
  Type,
} from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { DEVICE_PACKAGES, startDevice } from "../src/device/device.ts";
import { needs } from "./_peers.ts";

/**
 * What the two servers answer differently, and why it stays so. The cases
 * below avoid depending on these; each is a property of the application or
 * of the device's size, not of the protocol.
 */
export const DIFFERENCES = [
  "Payloads of the resources themselves: the readings, and /.well-known/core, which lists each server's own " +
  "resources and attributes (the demo site has /config, /large, …; the device has /fw).",
  "/temperature's Max-Age: the demo handler gives 2 s; the device's callbacks have no Max-Age (coap-simple's " +
  "shape), so observe responses carry the RFC 7641 default of 60 s the server adds.",
  'Where the observer count is read: server.observerCount in Deno, the "observers" field of the device\'s /fw.',
  "Strict dedup entries per peer (the bound behind 5.03 for one busy peer): 1,024 for the Deno server, 16 on " +
  "the device (core_glue.h); the case below sends each server one more than its bound.",
  "Block1: the Deno server reassembles uploads; the device has no Block1 resource and answers 4.02 (a critical " +
  "option it does not act on, RFC 7252 §5.4.1).",
  "A Uri-Query filter on /.well-known/core (RFC 6690 §4.1) is applied by the Deno server only.",
  "The Deno server answers slow handlers separately (empty ACK, then a CON); the device's callbacks are " +
  "synchronous, so it always piggybacks.",
  "Amplification control of success answers (a smaller Block2 block, or 4.01 with Echo, for an unverified " +
  "address) is the Deno server's alone: the device's largest answer, /fw, is already block-wise. Both cut an " +
  "error's diagnostic to 3× the request alike, which the cases below check byte for byte.",
  "The Deno server paces notifications to a quiet peer by PROBING_RATE (the core's peerSendDelay) and keeps " +
  "one notification in flight per peer; the device sends one CON per observer at a time and does not pace.",
];

const TOOLS = ["wasm2c", "riscv64-unknown-elf-gcc", "qemu-system-riscv32"];
const EMPTY = new Uint8Array(0);
const ANSWER_WITHIN_MS = 3000;
/** How long "no answer" is waited for: the device answers in a few ms, Deno in less. */
const SILENCE_MS = 500;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const path = (...segments: string[]) =>
  segments.map((segment) => ({ number: OptionNumber.UriPath, value: encodeString(segment) }));

/** A server under test: where it listens, and how many observers it has. */
interface Target {
  readonly port: number;
  /** The server's bound on strict dedup entries for one peer. */
  readonly strictPerPeer: number;
  observers(): Promise<number>;
  /** Makes /temperature notify its observers soon (the device does so by itself every 2 s). */
  change(): void;
  stop(): Promise<void>;
}

function denoTarget(): Target {
  const demo = demoSite();
  const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
  return {
    port: server.address.port,
    strictPerPeer: SERVER_LIMITS.strictPerPeer!,
    observers: () => Promise.resolve(server.observerCount),
    change: () => demo.temperature.changed(),
    stop: () => {
      server.close();
      demo.stop();
      return Promise.resolve();
    },
  };
}

async function deviceTarget(): Promise<Target> {
  const device = await startDevice({ seed: 21 });
  const client = new CoapClient();
  return {
    port: device.bridge.address.port,
    strictPerPeer: 16,
    observers: async () => JSON.parse(text((await client.get(`${device.url}/fw`)).payload)).observers,
    change: () => {},
    stop: async () => {
      client.close();
      await device.stop();
    },
  };
}

/** A client socket of our own: datagrams out as given, everything that comes back kept in order. */
class RawPeer {
  readonly #socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  readonly #to: Deno.NetAddr;
  readonly #inbox: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  readonly #pump: Promise<void>;

  constructor(port: number) {
    this.#to = { transport: "udp", hostname: "127.0.0.1", port };
    this.#pump = (async () => {
      try {
        for await (const [data] of this.#socket) {
          this.#inbox.push(data);
          this.#wake?.();
        }
      } catch {
        // closed
      }
    })();
  }

  async send(message: Message | Uint8Array): Promise<Uint8Array> {
    const bytes = message instanceof Uint8Array ? message : encode(message);
    await this.#socket.send(bytes, this.#to);
    return bytes;
  }

  /** The next datagram that `wanted` accepts (others are dropped), or undefined after `ms`. */
  async next(wanted: (bytes: Uint8Array) => boolean, ms = ANSWER_WITHIN_MS): Promise<Uint8Array | undefined> {
    const until = performance.now() + ms;
    while (true) {
      while (this.#inbox.length > 0) {
        const bytes = this.#inbox.shift()!;
        if (wanted(bytes)) return bytes;
      }
      const left = until - performance.now();
      if (left <= 0) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /** The answer to `request`: the ACK or RST with its Message ID (CON), or a response with its token (NON). */
  async answer(request: Message): Promise<Uint8Array> {
    const answers = (bytes: Uint8Array) => {
      const reply = decode(bytes);
      if (request.type === Type.CON) {
        return (reply.type === Type.ACK || reply.type === Type.RST) && reply.messageId === request.messageId;
      }
      return reply.type !== Type.ACK && sameBytes(reply.token, request.token);
    };
    const bytes = await this.next(answers);
    assert.ok(bytes, `no answer to MID ${request.messageId} within ${ANSWER_WITHIN_MS} ms`);
    return bytes;
  }

  /** Sends `request` and decodes its answer. */
  async exchange(request: Message): Promise<Message> {
    await this.send(request);
    return decode(await this.answer(request));
  }

  /** Asserts nothing at all arrives for `ms`. */
  async silence(ms = SILENCE_MS): Promise<void> {
    const bytes = await this.next(() => true, ms);
    if (bytes !== undefined) assert.fail(`expected silence, got ${JSON.stringify(decode(bytes))}`);
  }

  async close(): Promise<void> {
    this.#socket.close();
    await this.#pump;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

let nextMessageId = 0x2000;
let nextToken = 0x10;

function request(code: number, options: Message["options"], init: Partial<Message> = {}): Message {
  return {
    type: Type.CON,
    code,
    messageId: nextMessageId++ & 0xffff,
    token: Uint8Array.of(0xbe, nextToken++ & 0xff),
    options,
    payload: EMPTY,
    ...init,
  };
}

/** The piggybacked answer both servers must give, byte for byte: an error has no options, its diagnostic as payload. */
/**
 * The ACK both servers owe `to` (`size` bytes on the wire); an error's diagnostic cut, as both cut it, so
 * that the answer is at most 3 × `size` (RFC 7252 §11.3), never inside a UTF-8 sequence.
 */
function ackBytes(
  to: Message,
  code: number,
  diagnostic = "",
  options: Message["options"] = [],
  size = encode(to).length,
): Uint8Array {
  const answer = { type: Type.ACK, code, messageId: to.messageId, token: to.token, options };
  const payload = encodeString(diagnostic);
  if (code >> 5 < 4) return encode({ ...answer, payload });
  let length = Math.max(0, payload.length - (encode({ ...answer, payload }).length - 3 * size));
  while (length > 0 && (payload[length] & 0xc0) === 0x80) length--;
  return encode({ ...answer, payload: payload.subarray(0, length) });
}

/** GET /led, and its state. */
async function ledState(peer: RawPeer): Promise<string> {
  const reply = await peer.exchange(request(Code.Get, path("led")));
  assert.equal(reply.code, Code.Content);
  return text(reply.payload);
}

interface Case {
  name: string;
  run(peer: RawPeer, target: Target): Promise<void>;
}

const CASES: Case[] = [
  {
    name: "CoAP ping: an empty CON gets an empty RST with its Message ID (RFC 7252 §4.3)",
    async run(peer) {
      const ping = { ...request(Code.Empty, []), token: EMPTY };
      await peer.send(ping);
      assert.deepEqual(
        await peer.answer(ping),
        Uint8Array.of(0x70, 0x00, ping.messageId >> 8, ping.messageId & 0xff),
      );
    },
  },
  {
    name: "a CON with token length 15 gets RST, an empty NON nothing (RFC 7252 §4.2, §4.3)",
    async run(peer) {
      await peer.send(Uint8Array.of(0x4f, 0x01, 0xbe, 0xef));
      assert.deepEqual(await peer.next(() => true), Uint8Array.of(0x70, 0x00, 0xbe, 0xef));
      await peer.send(Uint8Array.of(0x50, 0x00, 0x12, 0x34));
      await peer.silence();
    },
  },
  {
    name: "a CON is answered in its ACK, a NON with a NON of the server's own Message ID",
    async run(peer) {
      const con = request(Code.Get, path("led"));
      await peer.send(con);
      const state = text(decode(await peer.answer(con)).payload);
      // Byte for byte the same from both: 2.05, Content-Format text/plain (0, an empty uint), "on" or "off".
      const get = request(Code.Get, path("led"));
      await peer.send(get);
      assert.deepEqual(
        await peer.answer(get),
        ackBytes(get, Code.Content, state, [{ number: OptionNumber.ContentFormat, value: EMPTY }]),
      );
      const non = request(Code.Get, path("led"), { type: Type.NON });
      const reply = await peer.exchange(non);
      assert.equal(reply.type, Type.NON);
      assert.equal(reply.code, Code.Content);
      assert.deepEqual(reply.token, non.token);
      assert.equal(text(reply.payload), state);
    },
  },
  {
    name: "tokens of 0 to 8 bytes come back unchanged",
    async run(peer) {
      for (let length = 0; length <= 8; length++) {
        const get = request(Code.Get, path("led"), {
          token: Uint8Array.from({ length }, (_, i) => 0xa0 + i),
        });
        const reply = await peer.exchange(get);
        assert.equal(reply.code, Code.Content);
        assert.deepEqual(reply.token, get.token);
      }
    },
  },
  {
    name: "a duplicate CON gets the same ACK bytes again and its request runs once (RFC 7252 §4.5)",
    async run(peer) {
      const before = await ledState(peer);
      const toggle = request(Code.Post, path("led"));
      const bytes = await peer.send(toggle);
      const first = await peer.answer(toggle);
      await peer.send(bytes);
      assert.deepEqual(await peer.answer(toggle), first);
      const after = await ledState(peer);
      assert.notEqual(after, before, "POST /led toggles");
      assert.equal(text(decode(first).payload), after);
      await peer.send(request(Code.Post, path("led"))); // back as it was
      await peer.next(() => true);
    },
  },
  {
    name: "a duplicate NON is dropped and its request runs once",
    async run(peer) {
      const before = await ledState(peer);
      const toggle = request(Code.Post, path("led"), { type: Type.NON });
      const bytes = await peer.send(toggle);
      assert.equal(decode(await peer.answer(toggle)).code, Code.Changed);
      await peer.send(bytes);
      await peer.silence();
      assert.notEqual(await ledState(peer), before);
      const back = request(Code.Post, path("led"), { type: Type.NON });
      await peer.exchange(back);
    },
  },
  {
    name: "Message IDs wrap: 0xfffe, 0xffff and 0x0000 are three requests, each answered",
    async run(peer) {
      for (const messageId of [0xfffe, 0xffff, 0x0000]) {
        const get = request(Code.Get, path("led"), { messageId });
        const reply = await peer.exchange(get);
        assert.equal(reply.type, Type.ACK);
        assert.equal(reply.code, Code.Content);
      }
    },
  },
  {
    name: "an unknown critical option: 4.02 for a CON, silence for a NON (RFC 7252 §5.4.1)",
    async run(peer) {
      const option = { number: 65003, value: Uint8Array.of(1) };
      const con = request(Code.Get, [...path("led"), option]);
      await peer.send(con);
      assert.deepEqual(await peer.answer(con), ackBytes(con, Code.BadOption, "option 65003 not supported"));
      await peer.send(request(Code.Get, [...path("led"), option], { type: Type.NON }));
      await peer.silence();
    },
  },
  {
    name: "Proxy-Uri: 5.05, neither is a proxy (RFC 7252 §5.7.2)",
    async run(peer) {
      const proxied = request(Code.Get, [{
        number: OptionNumber.ProxyUri,
        value: encodeString("coap://example.com/x"),
      }]);
      await peer.send(proxied);
      assert.deepEqual(await peer.answer(proxied), ackBytes(proxied, Code.ProxyingNotSupported));
    },
  },
  {
    name: "a Uri-Path that is not UTF-8: 4.00 (RFC 7252 §3.2 strings)",
    async run(peer) {
      const get = request(Code.Get, [{
        number: OptionNumber.UriPath,
        value: Uint8Array.of(0x6c, 0xff, 0xfe),
      }]);
      await peer.send(get);
      assert.deepEqual(
        await peer.answer(get),
        ackBytes(get, Code.BadRequest, "Uri-Path or Uri-Query is not UTF-8"),
      );
    },
  },
  {
    name: "options are checked before the path: an unknown path with Proxy-Uri is 5.05, not 4.04",
    async run(peer) {
      const proxied = request(Code.Get, [
        ...path("nothing"),
        { number: OptionNumber.ProxyUri, value: encodeString("coap://example.com/x") },
      ]);
      await peer.send(proxied);
      assert.deepEqual(await peer.answer(proxied), ackBytes(proxied, Code.ProxyingNotSupported));
    },
  },
  {
    name: "an unknown path 4.04, a method the resource lacks 4.05",
    async run(peer) {
      const missing = request(Code.Get, path("nothing", "here"));
      await peer.send(missing);
      assert.deepEqual(await peer.answer(missing), ackBytes(missing, Code.NotFound));
      const remove = request(Code.Delete, path("led"));
      await peer.send(remove);
      assert.deepEqual(await peer.answer(remove), ackBytes(remove, Code.MethodNotAllowed));
    },
  },
  {
    name: "an Accept the resource cannot meet: 4.06 (RFC 7252 §5.10.4)",
    async run(peer) {
      const get = request(Code.Get, [
        ...path("temperature"),
        { number: OptionNumber.Accept, value: encodeUint(ContentFormat.Json) },
      ]);
      await peer.send(get);
      assert.deepEqual(await peer.answer(get), ackBytes(get, Code.NotAcceptable));
    },
  },
  {
    name: "Block2 past the end of the representation: 4.02 (RFC 7959 §2.4)",
    async run(peer) {
      const block = { number: OptionNumber.Block2, value: encodeBlock({ num: 1000, more: false, szx: 6 }) };
      const get = request(Code.Get, [...path(".well-known", "core"), block]);
      await peer.send(get);
      assert.deepEqual(await peer.answer(get), ackBytes(get, Code.BadOption, "block beyond the end"));
    },
  },
  {
    name: "Block2 with the reserved SZX 7: 4.00 (RFC 7959 §2.2)",
    async run(peer) {
      const get = request(Code.Get, [...path(".well-known", "core"), {
        number: OptionNumber.Block2,
        value: Uint8Array.of(0x07),
      }]);
      await peer.send(get);
      assert.deepEqual(
        await peer.answer(get),
        ackBytes(get, Code.BadRequest, "Block2 SZX 7 is reserved"),
      );
    },
  },
  {
    name: "Block2 in 16-byte blocks: Block2, Size2 on the first, ETag (RFC 7959 §2.4)",
    async run(peer) {
      const blockOf = (num: number) => ({
        number: OptionNumber.Block2,
        value: encodeBlock({ num, more: false, szx: 0 }),
      });
      const first = await peer.exchange(request(Code.Get, [...path(".well-known", "core"), blockOf(0)]));
      assert.equal(first.code, Code.Content);
      assert.deepEqual(getOption(first, OptionNumber.Block2), encodeBlock({ num: 0, more: true, szx: 0 }));
      const size = decodeUint(getOption(first, OptionNumber.Size2)!);
      assert.equal(getOption(first, OptionNumber.ETag)?.length, 4);
      const second = await peer.exchange(request(Code.Get, [...path(".well-known", "core"), blockOf(1)]));
      assert.equal(getOption(second, OptionNumber.Size2), undefined, "Size2 only when asked or on block 0");
      assert.deepEqual(getOption(second, OptionNumber.ETag), getOption(first, OptionNumber.ETag));
      assert.equal(first.payload.length + second.payload.length, Math.min(32, size));
    },
  },
  {
    name: "Observe: the registration's answer has Observe 0; Observe 1 deregisters (RFC 7641 §3.1, §3.6)",
    async run(peer, target) {
      assert.equal(await target.observers(), 0);
      const token = Uint8Array.of(0x0b, 0x5e);
      const register = request(Code.Get, [
        { number: OptionNumber.Observe, value: EMPTY },
        ...path("temperature"),
      ], {
        token,
      });
      const registered = await peer.exchange(register);
      assert.equal(registered.code, Code.Content);
      // The first observer of a resource starts its sequence at 0 on both servers.
      assert.deepEqual(getOption(registered, OptionNumber.Observe), EMPTY);
      assert.equal(await target.observers(), 1);
      const deregister = request(Code.Get, [
        { number: OptionNumber.Observe, value: Uint8Array.of(1) },
        ...path("temperature"),
      ], { token });
      const deregistered = await peer.exchange(deregister);
      assert.equal(deregistered.code, Code.Content);
      assert.equal(getOption(deregistered, OptionNumber.Observe), undefined);
      assert.equal(await target.observers(), 0);
    },
  },
  {
    name: "an RST to a NON notification ends the observation (RFC 7641 §3.6)",
    async run(peer, target) {
      const token = Uint8Array.of(0x0b, 0x5f);
      const register = request(Code.Get, [
        { number: OptionNumber.Observe, value: EMPTY },
        ...path("temperature"),
      ], {
        token,
      });
      assert.ok(getOption(await peer.exchange(register), OptionNumber.Observe));
      target.change();
      // The first notification is NON on both (every 5th is CON), under the registration's token.
      const bytes = await peer.next((bytes) => sameBytes(decode(bytes).token, token));
      assert.ok(bytes, "no notification within 3 s");
      const notification = decode(bytes);
      assert.equal(notification.type, Type.NON);
      assert.equal(notification.code, Code.Content);
      assert.ok(getOption(notification, OptionNumber.Observe));
      await peer.send({
        ...notification,
        type: Type.RST,
        code: Code.Empty,
        token: EMPTY,
        options: [],
        payload: EMPTY,
      });
      // Nothing answers an RST: poll until the server has taken it in.
      let observers = await target.observers();
      for (let waited = 0; observers !== 0 && waited < ANSWER_WITHIN_MS; waited += 50) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        observers = await target.observers();
      }
      assert.equal(observers, 0);
    },
  },
  {
    // Last: its strict dedup entries live for EXCHANGE_LIFETIME (247 s) and so does the peer's quota use.
    name: "a peer past its strict dedup quota gets 5.03 with Max-Age, and that request is not run",
    async run(peer, target) {
      const before = await ledState(peer);
      for (let i = 0; i < target.strictPerPeer; i++) {
        assert.equal((await peer.exchange(request(Code.Post, path("led")))).code, Code.Changed);
      }
      const busy = await peer.exchange(request(Code.Post, path("led")));
      assert.equal(busy.code, Code.ServiceUnavailable);
      assert.ok("too many requests in progress".startsWith(text(busy.payload)), "the diagnostic, cut to fit");
      const maxAge = decodeUint(getOption(busy, OptionNumber.MaxAge)!);
      assert.ok(maxAge > 0 && maxAge <= 247, `Max-Age ${maxAge}`);
      // An even number of toggles ran: the one refused did not.
      const expected = target.strictPerPeer % 2 === 0 ? before : (before === "on" ? "off" : "on");
      assert.equal(await ledState(peer), expected);
    },
  },
];

async function runSuite(t: Deno.TestContext, target: Target): Promise<void> {
  try {
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const peer = new RawPeer(target.port);
        try {
          await c.run(peer, target);
        } finally {
          await peer.close();
        }
      });
    }
  } finally {
    await target.stop();
  }
}

Deno.test("behaviour (Deno demo server)", async (t) => {
  await runSuite(t, denoTarget());
});

Deno.test({
  ...needs("behaviour (device under QEMU)", TOOLS, DEVICE_PACKAGES),
  async fn(t) {
    await runSuite(t, await deviceTarget());
  },
});
