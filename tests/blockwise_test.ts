// Block-wise transfers (RFC 7959) over UDP: Block2 downloads with early
// negotiation and ETag restarts, Block1 uploads with 2.31, 4.08 and 4.13,
// concurrent uploads kept apart, block-wise notifications, 1 MB each way
// through a relay dropping 20 % of datagrams, and block-wise answers to PUT,
// POST and FETCH rendered once (§2.7) — for libcoap, our client and by hand.
import assert from "node:assert/strict";
import {
  blockSize,
  BlockwiseError,
  CoapClient,
  type CoapOption,
  CoapServer,
  Code,
  decode,
  decodeBlock,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_PARAMETERS,
  encode,
  encodeBlock,
  encodeString,
  encodeUint,
  Endpoint,
  exchangeLifetime,
  MemoryLink,
  type Message,
  observable,
  OptionNumber,
  type ServerOptions,
  Site,
  TransferLimitError,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { bytes } from "./_hex.ts";
import { startLossyRelay } from "./_lossy_relay.ts";
import { freeUdpPort, needs, runCommand, startProcess, waitForCoap } from "./_peers.ts";
import { randomBytes, seededRandom } from "./_random.ts";
import { piggybacked, scriptedServer } from "./_scripted_udp_server.ts";

async function sha256(data: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * A server for the block-wise mechanics: amplification control off, so an unverified loopback client gets
 * the block sizes asked for (amplification_test.ts covers the smaller blocks and Echo it would choose).
 */
function serve(site: Site, options: ServerOptions = {}) {
  const server = new CoapServer(site, {
    hostname: "127.0.0.1",
    port: 0,
    amplification: { factor: Infinity },
    ...options,
  });
  return { server, base: `coap://127.0.0.1:${server.address.port}` };
}

Deno.test("Block2: a large response arrives whole, in 1024-byte blocks or in the size the client asks for", async () => {
  const { site, stop } = demoSite();
  const { server, base } = serve(site);
  const traced: number[] = [];
  const client = new CoapClient({
    onTrace: (event) => {
      const block = event.message?.options.find((o) => o.number === OptionNumber.Block2);
      if (event.direction === "in" && block) traced.push(decodeBlock(block.value).szx);
    },
  });
  try {
    const whole = await client.get(`${base}/large`);
    assert.equal(whole.text().split("\n").length, 65);
    assert.ok(whole.payload.length > 3 * 1024);
    assert.equal(whole.option(OptionNumber.Block2), undefined, "the reassembled response has no Block2");
    assert.ok(traced.length >= 4);
    assert.deepEqual(new Set(traced), new Set([6]), "1024-byte blocks by default");
    traced.length = 0;
    const small = await client.get(`${base}/large`, { blockSize: 64 });
    assert.equal(small.text(), whole.text());
    assert.equal(traced.length, Math.ceil(whole.payload.length / 64));
    assert.deepEqual(new Set(traced), new Set([2]), "early negotiation: every block is 64 bytes");
  } finally {
    client.close();
    server.close();
    stop();
  }
});

Deno.test("Block2: when the representation changes mid-transfer (new ETag), the client starts over", async () => {
  let version = 0;
  let served = 0;
  const site = new Site().add("changing", {
    get: () => {
      // The representation changes once, while the client is at its second block.
      if (++served === 2) version++;
      return `version ${version} `.repeat(300);
    },
  });
  const { server, base } = serve(site);
  const client = new CoapClient();
  try {
    const response = await client.get(`${base}/changing`);
    assert.equal(response.text(), "version 1 ".repeat(300));
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("Block1: an upload is reassembled; 2.31 Continue per block; the answer acknowledges the last block", async () => {
  const { site, stop } = demoSite();
  const { server, base } = serve(site);
  const codes: string[] = [];
  const client = new CoapClient({
    onTrace: (event) => {
      if (event.direction === "in" && event.message) codes.push(event.message.code.toString(16));
    },
  });
  try {
    const body = randomBytes(seededRandom(200), 200 * 1024);
    const response = await client.put(`${base}/upload`, body);
    assert.equal(response.text(), `${body.length} bytes, sha256 ${await sha256(body)}`);
    assert.equal(codes.filter((code) => code === "5f").length, 199, "199 × 2.31 Continue, then the answer");
    const last = decodeBlock(response.option(OptionNumber.Block1)!);
    assert.deepEqual([last.num, last.more], [199, false]);
  } finally {
    client.close();
    server.close();
    stop();
  }
});

Deno.test("Block1: a gap gets 4.08, a body over the limit 4.13 with Size1", async () => {
  const { site, stop } = demoSite();
  const { server, base } = serve(site, { maxBodySize: 4096 });
  const client = new CoapClient();
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const tooLarge = await client.put(`${base}/upload`, new Uint8Array(5000));
    assert.equal(tooLarge.codeString, "4.13");
    assert.equal(tooLarge.option(OptionNumber.Size1)?.[0], 0x10, "Size1 = 4096");
    // A raw client that starts with block 1: the server never saw block 0.
    // CON PUT, token 01, Uri-Path "upload", Block1 NUM 1 M 1 SZX 0, 16 bytes.
    const gap = "41030099" + "01" + "b6" + "75706c6f6164" + "d10318" + "ff" + "00".repeat(16);
    await socket.send(bytes(gap), { transport: "udp", hostname: "127.0.0.1", port: server.address.port });
    const [answer] = await socket.receive();
    assert.equal(decode(answer).code, 0x88, "4.08 Request Entity Incomplete");
  } finally {
    socket.close();
    client.close();
    server.close();
    stop();
  }
});

Deno.test("Block1: concurrent uploads from different clients stay apart", async () => {
  const { site, stop } = demoSite();
  const { server, base } = serve(site);
  const clients = [new CoapClient(), new CoapClient(), new CoapClient()];
  try {
    const bodies = clients.map((_, i) => randomBytes(seededRandom(i + 1), 20_000 + i * 1000));
    const answers = await Promise.all(
      clients.map((client, i) => client.post(`${base}/upload`, bodies[i], { blockSize: 256 })),
    );
    for (const [i, answer] of answers.entries()) {
      assert.equal(answer.text(), `${bodies[i].length} bytes, sha256 ${await sha256(bodies[i])}`);
    }
  } finally {
    clients.forEach((client) => client.close());
    server.close();
    stop();
  }
});

Deno.test("Observe with Block2: notifications larger than a block arrive whole", async () => {
  let round = 0;
  const resource = observable({ get: () => `${round}`.repeat(3000) });
  const { server, base } = serve(new Site().add("big", resource));
  const client = new CoapClient();
  try {
    const observation = await client.observe(`${base}/big`);
    assert.equal(observation.response.text(), "0".repeat(3000));
    round = 7;
    resource.changed();
    for await (const notification of observation) {
      assert.equal(notification.text(), "7".repeat(3000));
      assert.equal(notification.message.type === Type.CON || notification.message.type === Type.NON, true);
      break;
    }
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("1 MB down (Block2) and 1 MB up (Block1) through a relay dropping 20 % each way, byte-identical", async () => {
  const megabyte = randomBytes(seededRandom(1024), 1024 * 1024);
  const { site, stop } = demoSite();
  site.add("megabyte", { get: () => megabyte });
  const { server } = serve(site);
  const relay = startLossyRelay(server.address.port, { loss: 0.2, seed: 77 });
  // A 5 ms ACK timeout keeps 2,048 exchanges quick on loopback; with 21 transmissions an exchange
  // fails for good with probability 0.36^21 ≈ 5e-10.
  const client = new CoapClient({ parameters: { ackTimeout: 5, maxRetransmit: 20 } });
  try {
    const down = await client.get(`coap://127.0.0.1:${relay.port}/megabyte`);
    assert.equal(await sha256(down.payload), await sha256(megabyte));
    const up = await client.put(`coap://127.0.0.1:${relay.port}/upload`, megabyte);
    assert.equal(up.text(), `${megabyte.length} bytes, sha256 ${await sha256(megabyte)}`);
    assert.ok(relay.dropped > 100, `the relay dropped ${relay.dropped} datagrams`);
  } finally {
    client.close();
    relay.close();
    server.close();
    stop();
  }
});

/** A 3 KB answer naming the method and the body it was given, so a rerun with an empty body shows. */
function answer(method: string, body: string): string {
  return `${method} of ${body.length} bytes: ${body.slice(0, 10)}\n`.padEnd(3000, "=");
}

/** /echo answers PUT, POST and FETCH with 3 KB; /created only takes POST (no GET: continuing with GET gets 4.05). */
function onceSite() {
  const calls: string[] = [];
  const site = new Site()
    .add("echo", {
      put: (request) => (calls.push(`PUT ${request.text()}`), answer("PUT", request.text())),
      post: (request) => (calls.push(`POST ${request.text()}`), answer("POST", request.text())),
      fetch: (request) => (calls.push(`FETCH ${request.text()}`), answer("FETCH", request.text())),
    })
    .add("created", {
      post: (request) => (calls.push(`POST ${request.text()}`), answer("POST", request.text())),
    });
  return { site, calls };
}

Deno.test({
  ...needs(
    "Block2 answer to PUT and POST: libcoap coap-client-notls -b 64 gets all 3 KB, the handler runs once",
    ["coap-client-notls"],
    "libcoap3-bin",
  ),
  async fn() {
    const { site, calls } = onceSite();
    const { server, base } = serve(site);
    try {
      // A small PUT body (libcoap sends it with Block1 0/0/64) and a 200-byte POST body in four Block1 blocks,
      // whose continuations repeat libcoap's Request-Tag.
      const body = "b".repeat(200);
      for (const [method, path, payload] of [["put", "echo", "hello"], ["post", "created", body]]) {
        const result = await runCommand("coap-client-notls", [
          "-B",
          "5",
          "-m",
          method,
          "-b",
          "64",
          "-e",
          payload,
          `${base}/${path}`,
        ]);
        assert.equal(result.code, 0, result.stderr);
        // libcoap ends what it prints with a newline of its own.
        assert.equal(result.stdout.trimEnd(), answer(method.toUpperCase(), payload).trimEnd());
      }
      assert.deepEqual(calls, ["PUT hello", `POST ${body}`]);
    } finally {
      server.close();
    }
  },
});

Deno.test("Block2 answer to PUT, POST and FETCH: our client continues with the same method and options, once", async () => {
  const { site, calls } = onceSite();
  const { server, base } = serve(site);
  const sent: Message[] = [];
  const client = new CoapClient({
    onTrace: (event) => {
      if (event.direction === "out" && event.message && event.message.code !== 0) sent.push(event.message);
    },
  });
  const option = (message: Message, number: number) => message.options.find((o) => o.number === number);
  try {
    const body = "p".repeat(200);
    const put = await client.put(`${base}/echo`, "hello", { blockSize: 64, contentFormat: 0 });
    assert.equal(put.codeString, "2.04");
    assert.equal(put.text(), answer("PUT", "hello"));
    assert.equal(sent.length, Math.ceil(3000 / 64), "early negotiation: 64-byte blocks");
    for (const request of sent) assert.equal(request.code, Code.Put);
    for (const request of sent.slice(1)) {
      assert.equal(request.payload.length, 0, "continuations carry no body (§2.7)");
      assert.equal(option(request, OptionNumber.ContentFormat)?.value.length, 0, "Content-Format 0 is kept");
    }
    sent.length = 0;
    // A POST-only resource: a 200-byte body in Block1 blocks, then the answer's Block2 blocks with the same tag.
    const post = await client.post(`${base}/created`, body, { blockSize: 64 });
    assert.equal(post.codeString, "2.04");
    assert.equal(post.text(), answer("POST", body));
    const tag = option(sent[0], OptionNumber.RequestTag)!.value;
    const continuations = sent.filter((request) => option(request, OptionNumber.Block2) !== undefined);
    // The last Block1 request asks for no Block2 size, so the answer comes in 1024-byte blocks: 1 and 2 follow.
    assert.equal(continuations.length, 2);
    for (const request of continuations) {
      assert.equal(request.code, Code.Post);
      assert.deepEqual(option(request, OptionNumber.RequestTag)?.value, tag);
      assert.equal(option(request, OptionNumber.Block1), undefined);
      assert.equal(option(request, OptionNumber.Size1), undefined);
      assert.equal(request.payload.length, 0);
    }
    assert.equal(
      new Set(sent.map((request) => request.token.join())).size,
      sent.length,
      "a fresh token each",
    );
    sent.length = 0;
    // RFC 8132 §2.3.2: a FETCH's payload selects what it gets, so every block's request carries it.
    const fetched = await client.request(`${base}/echo`, {
      method: "FETCH",
      payload: "query",
      blockSize: 256,
    });
    assert.equal(fetched.text(), answer("FETCH", "query"));
    for (const request of sent) assert.equal(new TextDecoder().decode(request.payload), "query");
    assert.deepEqual(calls, ["PUT hello", `POST ${body}`, "FETCH query"]);
  } finally {
    client.close();
    server.close();
  }
});

/** A client socket speaking CoAP by hand: one CON request, one decoded answer (or a failure after 2 s). */
function rawPeer(serverPort: number) {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  let messageId = 0x4000;
  return {
    async request(code: number, options: CoapOption[], payload = ""): Promise<Message> {
      messageId++;
      const token = Uint8Array.of(messageId >> 8, messageId & 0xff);
      const message = { type: Type.CON, code, messageId, token, options, payload: encodeString(payload) };
      await socket.send(encode(message), { transport: "udp", hostname: "127.0.0.1", port: serverPort });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer within 2 s")), 2000);
      });
      try {
        const answered = decode((await Promise.race([socket.receive(), timeout]))[0]);
        assert.deepEqual(answered.token, token);
        return answered;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => socket.close(),
  };
}

const path = (...segments: string[]): CoapOption[] =>
  segments.map((segment) => ({ number: OptionNumber.UriPath, value: encodeString(segment) }));
const block2 = (num: number, szx = 6): CoapOption => ({
  number: OptionNumber.Block2,
  value: encodeBlock({ num, more: false, szx }),
});
const optionOf = (message: Message, number: number) =>
  message.options.find((o) => o.number === number)?.value;

Deno.test("Block2 answer to PUT and POST by hand: continuations are served from one rendering; another peer gets 4.08", async () => {
  let setpoint = "";
  const created: string[] = [];
  const site = new Site()
    .add("setpoint", { put: (request) => (setpoint = request.text(), answer("PUT", setpoint)) })
    .add("items", {
      post: (request) => (created.push(request.text()), answer("POST", `item ${created.length}`)),
    });
  const { server } = serve(site);
  const peer = rawPeer(server.address.port);
  const stranger = rawPeer(server.address.port);
  try {
    const transfers = [
      [Code.Put, "setpoint", "21.5", answer("PUT", "21.5")],
      [Code.Post, "items", "first", answer("POST", "item 1")],
    ] as const;
    for (const [code, segment, body, expected] of transfers) {
      const first = await peer.request(code, path(segment), body);
      assert.equal(first.code, Code.Changed);
      assert.deepEqual(decodeBlock(optionOf(first, OptionNumber.Block2)!), { num: 0, more: true, szx: 6 });
      const etag = optionOf(first, OptionNumber.ETag);
      const parts = [first.payload];
      // What aiocoap and libcoap send: the same method and Uri-Path, Block2 NUM > 0, no payload.
      for (const num of [1, 2]) {
        const next = await peer.request(code, [...path(segment), block2(num)]);
        assert.equal(next.code, Code.Changed);
        assert.deepEqual(optionOf(next, OptionNumber.ETag), etag, "one rendering, one ETag");
        assert.equal(decodeBlock(optionOf(next, OptionNumber.Block2)!).more, num < 2);
        parts.push(next.payload);
      }
      assert.equal(parts.map((part) => new TextDecoder().decode(part)).join(""), expected);
      // The rendering is this peer's: the same continuation from another port finds none (RFC 7959 §2.9.2).
      const foreign = await stranger.request(code, [...path(segment), block2(1)]);
      assert.equal(foreign.code, Code.RequestEntityIncomplete);
    }
    assert.equal(setpoint, "21.5", "the PUT was not applied again with an empty body");
    assert.deepEqual(created, ["first"], "the POST created once");
  } finally {
    peer.close();
    stranger.close();
    server.close();
  }
});

Deno.test("Block2 answer to PUT: kept EXCHANGE_LIFETIME from the last block served; after that, 4.08 and no rerun", async () => {
  const clock = new VirtualClock();
  let calls = 0;
  const site = new Site().add("echo", { put: (request) => (calls++, answer("PUT", request.text())) });
  const { server } = serve(site, { clock });
  const peer = rawPeer(server.address.port);
  const lifetime = exchangeLifetime(DEFAULT_PARAMETERS);
  try {
    assert.equal((await peer.request(Code.Put, path("echo"), "x")).code, Code.Changed);
    await clock.advance(lifetime);
    // Served at the very end of its lifetime, which this access renews.
    assert.equal((await peer.request(Code.Put, [...path("echo"), block2(1)])).code, Code.Changed);
    await clock.advance(lifetime + 1);
    const late = await peer.request(Code.Put, [...path("echo"), block2(2)]);
    assert.equal(late.code, Code.RequestEntityIncomplete);
    assert.equal(calls, 1);
  } finally {
    peer.close();
    server.close();
  }
});

Deno.test("Block2 answer to POST: renderings are bounded in count and bytes; the least recently used goes first", async () => {
  let calls = 0;
  const site = new Site()
    .add("echo", { post: (request) => (calls++, answer("POST", request.text())) })
    .add("huge", { post: () => (calls++, "h".repeat(9000)) });
  const countBound = serve(site, { maxBlock2Renderings: 2 }).server;
  const byteBound = serve(site, { maxBlock2RenderingBytes: 8000 }).server;
  const query = (q: string): CoapOption => ({ number: OptionNumber.UriQuery, value: encodeString(q) });
  const peers = [rawPeer(countBound.address.port), rawPeer(byteBound.address.port)];
  // Uri-Query is part of the key: each letter is a transfer of its own to one resource.
  const start = (peer: ReturnType<typeof rawPeer>, q: string) =>
    peer.request(Code.Post, [...path("echo"), query(q)], q);
  const continued = async (peer: ReturnType<typeof rawPeer>, q: string) =>
    (await peer.request(Code.Post, [...path("echo"), query(q), block2(1)])).code;
  try {
    const [byCount, byBytes] = peers;
    for (const q of ["a", "b", "c"]) await start(byCount, q);
    assert.equal(await continued(byCount, "a"), Code.RequestEntityIncomplete, "two kept: the first went");
    assert.equal(await continued(byCount, "c"), Code.Changed);
    assert.equal(await continued(byCount, "b"), Code.Changed);
    // "b" was started before "c" but served after it: "c" is the least recently used, so "d" displaces it.
    await start(byCount, "d");
    assert.equal(await continued(byCount, "c"), Code.RequestEntityIncomplete);
    assert.equal(await continued(byCount, "b"), Code.Changed);
    assert.equal(await continued(byCount, "d"), Code.Changed);
    // Two 3 KB renderings fit in 8,000 bytes, a third does not.
    for (const q of ["a", "b", "c"]) await start(byBytes, q);
    assert.equal(await continued(byBytes, "a"), Code.RequestEntityIncomplete);
    assert.equal(await continued(byBytes, "b"), Code.Changed);
    assert.equal(await continued(byBytes, "c"), Code.Changed);
    // A 9 KB answer cannot be kept at all: 5.00 rather than a first block with no rest.
    assert.equal((await byBytes.request(Code.Post, path("huge"))).code, Code.InternalServerError);
    assert.equal(calls, 8);
  } finally {
    peers.forEach((peer) => peer.close());
    countBound.close();
    byteBound.close();
  }
});

Deno.test("Block2 answer to PUT: when the ETag changes mid-way our client fails instead of sending the PUT again", async () => {
  // A fake server whose second block carries another ETag.
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const seen: Message[] = [];
  const serving = (async () => {
    for await (const [datagram, from] of socket) {
      const request = decode(datagram);
      seen.push(request);
      const num = seen.length - 1;
      await socket.send(
        encode({
          type: Type.ACK,
          code: Code.Changed,
          messageId: request.messageId,
          token: request.token,
          options: [
            { number: OptionNumber.ETag, value: Uint8Array.of(num) },
            { number: OptionNumber.Block2, value: encodeBlock({ num, more: true, szx: 6 }) },
          ],
          payload: new Uint8Array(1024),
        }),
        from,
      );
    }
  })().catch(() => {});
  const client = new CoapClient();
  try {
    await assert.rejects(client.put(`coap://127.0.0.1:${port}/x`, "v"), /changed \(new ETag\)/);
    assert.equal(seen.length, 2, "block 0 was not asked for again");
    assert.equal(new TextDecoder().decode(seen[0].payload), "v");
    assert.equal(decodeBlock(optionOf(seen[1], OptionNumber.Block2)!).num, 1);
    assert.equal(seen[1].payload.length, 0);
  } finally {
    client.close();
    socket.close();
    await serving;
  }
});

Deno.test({
  ...needs(
    "Block2 answer to PUT from libcoap coap-server-notls -e /example_data: our client gets the echo, 2.01 then 2.04",
    ["coap-server-notls"],
    "libcoap3-bin",
  ),
  async fn() {
    const port = freeUdpPort();
    // -e: libcoap echoes a PUT's body in its answer, block-wise when larger than a block.
    const peer = startProcess("coap-server-notls", ["-A", "127.0.0.1", "-p", String(port), "-e"]);
    const client = new CoapClient();
    try {
      await waitForCoap(port);
      const first = "first ".repeat(500);
      const created = await client.put(`coap://127.0.0.1:${port}/example_data`, first);
      assert.equal(created.codeString, "2.01");
      assert.equal(created.text(), first);
      const second = "second ".repeat(430);
      const changed = await client.put(`coap://127.0.0.1:${port}/example_data`, second, { blockSize: 256 });
      assert.equal(changed.codeString, "2.04");
      assert.equal(changed.text(), second);
    } finally {
      client.close();
      await peer.stop();
    }
  },
});

/** The piggybacked answer to `request` carrying Block2 `num`/`more`/`szx` with a full block (or `length` bytes). */
function blockAnswer(
  request: Message,
  block: { num: number; more: boolean; szx?: number; length?: number; size2?: number },
): Message {
  const szx = block.szx ?? 6;
  const options: CoapOption[] = [{
    number: OptionNumber.Block2,
    value: encodeBlock({ num: block.num, more: block.more, szx }),
  }];
  if (block.size2 !== undefined) options.push({ number: OptionNumber.Size2, value: encodeUint(block.size2) });
  return piggybacked(request, {
    code: Code.Content,
    options,
    payload: new Uint8Array(block.length ?? blockSize(szx)).fill(0x61 + (block.num % 26)),
  });
}

/** The Block2 a request asks for (NUM 0 of 1024 when it has none). */
function askedBlock(request: Message) {
  const value = optionOf(request, OptionNumber.Block2);
  return value === undefined ? { num: 0, more: false, szx: 6 } : decodeBlock(value);
}

Deno.test("Block2 limits: a response that never ends stops at maxBodySize, with an error naming the limit", async () => {
  const server = scriptedServer((
    request,
  ) => [blockAnswer(request, { num: askedBlock(request).num, more: true })]);
  const client = new CoapClient();
  try {
    await assert.rejects(
      client.get(`${server.uri}/endless`, { maxBodySize: 64 * 1024 }),
      (error: Error) => {
        assert.ok(error instanceof TransferLimitError);
        assert.equal(error.limit, "maxBodySize");
        assert.equal(
          error.message,
          "response body exceeds maxBodySize 65536 bytes (65536 bytes received, block 64 brings 1024 more)",
        );
        return true;
      },
    );
    assert.equal(server.received.length, 65, "blocks 0-63 fill the limit; block 64 is the one too many");
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("Block2 limits: Size2 over maxBodySize fails on the first block, before anything more is fetched", async () => {
  const server = scriptedServer((request) => [
    blockAnswer(request, { num: askedBlock(request).num, more: true, size2: 419430400 }),
  ]);
  const client = new CoapClient({ maxBodySize: DEFAULT_MAX_BODY_SIZE });
  try {
    await assert.rejects(
      client.get(`${server.uri}/huge`),
      new TransferLimitError("maxBodySize", 16777216, "response body", "Size2 says 419430400"),
    );
    assert.equal(server.received.length, 1);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("Block2 numbers: a NUM stuck at 0, a NUM that skips ahead, or a larger SZX than asked is refused at once", async () => {
  const cases = [
    {
      answer: (_num: number) => ({ num: 0, more: true }),
      error: /asked for block 1 of 1024 bytes, got block 0 of 1024 bytes$/,
      requests: 2,
    },
    {
      answer: (num: number) => ({ num: num === 0 ? 0 : num + 1, more: true }),
      error: /asked for block 1 of 1024 bytes, got block 2 of 1024 bytes$/,
      requests: 2,
    },
    {
      answer: (num: number) => ({ num, more: true, szx: 6 }),
      error: /asked for block 0 of 64 bytes, got block 0 of 1024 bytes$/,
      requests: 1,
      blockSize: 64,
    },
    {
      answer: (num: number) => ({ num, more: true, length: 1000 }),
      error: /block 0 of 1024 bytes carries 1000, with more to come$/,
      requests: 1,
    },
  ];
  for (const { answer, error, requests, blockSize } of cases) {
    const server = scriptedServer((request) => [blockAnswer(request, answer(askedBlock(request).num))]);
    const client = new CoapClient();
    try {
      await assert.rejects(client.get(`${server.uri}/x`, { blockSize }), (thrown: Error) => {
        assert.ok(thrown instanceof BlockwiseError, String(thrown));
        assert.match(thrown.message, error);
        return true;
      });
      assert.equal(server.received.length, requests);
    } finally {
      client.close();
      await server.close();
    }
  }
});

Deno.test("Block2 sizes (RFC 7959 §2.4): a smaller SZX is followed, its NUM counting in the smaller size", async () => {
  // 1024 bytes at SZX 6, then the server drops to 256-byte blocks: the second block is NUM 4 of 256 (offset 1024).
  const asked: string[] = [];
  const server = scriptedServer((request) => {
    const { num, szx } = askedBlock(request);
    asked.push(`${num}/${blockSize(szx)}`);
    if (szx === 6) return [blockAnswer(request, { num: num * 4, more: true, szx: num === 0 ? 6 : 4 })];
    return [blockAnswer(request, { num, more: num < 6, szx: 4, length: num < 6 ? 256 : 100 })];
  });
  const client = new CoapClient();
  try {
    const response = await client.get(`${server.uri}/shrinking`);
    assert.equal(response.payload.length, 1024 + 256 + 256 + 100, "blocks 0/1024, 4/256, 5/256, 6/256");
    assert.deepEqual(asked, ["0/1024", "1/1024", "5/256", "6/256"]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("Block2 limits: a transfer longer than transferTimeout stops there (virtual clock)", async () => {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock);
  const CLIENT = { hostname: "10.0.0.1", port: 40000 };
  const SERVER = { hostname: "10.0.0.2", port: 5683 };
  const server = link.attach(SERVER);
  let requests = 0;
  // A slow, endless server: each block 100 ms after it is asked for.
  server.listen((batch) => {
    for (const { data } of batch) {
      const request = decode(data);
      requests++;
      clock.setTimer(() => {
        server.send([{
          data: encode(blockAnswer(request, { num: askedBlock(request).num, more: true })),
          address: CLIENT,
        }]);
      }, 100);
    }
  });
  const client = new CoapClient({
    endpoint: new Endpoint(link.attach(CLIENT), { clock, seed: 3 }),
    transferTimeout: 1000,
  });
  const outcome = client.get(`coap://${SERVER.hostname}:${SERVER.port}/slow`).then(
    () => "resolved",
    (error: Error) => error,
  );
  await clock.advance(1150);
  const error = await outcome;
  assert.ok(error instanceof TransferLimitError, String(error));
  assert.equal(
    error.message,
    "block-wise transfer from 10.0.0.2:5683 exceeds transferTimeout 1 s (10 blocks, 10240 bytes received)",
  );
  assert.equal(
    requests,
    11,
    "the first block at 100 ms, ten more by 1,100 ms; the one in flight is abandoned",
  );
  await clock.advance(60_000);
  assert.equal(requests, 11, "and not retransmitted");
  client.close();
});

Deno.test("Block1 to no resource gets 4.04 at its first block, to a resource without the method 4.05", async () => {
  const { server, base } = serve(new Site().add("readonly", { get: () => "x" }));
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port: Number(new URL(base).port) };
  try {
    const cases = [["nothing", Code.NotFound, 7], ["readonly", Code.MethodNotAllowed, 8]] as const;
    for (const [path, expected, messageId] of cases) {
      await socket.send(
        encode({
          type: Type.CON,
          code: Code.Put,
          messageId,
          token: Uint8Array.of(messageId),
          options: [
            { number: OptionNumber.UriPath, value: new TextEncoder().encode(path) },
            { number: OptionNumber.Block1, value: encodeBlock({ num: 0, more: true, szx: 2 }) },
          ],
          payload: new Uint8Array(64),
        }),
        target,
      );
      assert.equal(decode((await socket.receive())[0]).code, expected, path);
    }
  } finally {
    socket.close();
    server.close();
  }
});
