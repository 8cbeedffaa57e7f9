// The server's own bounds (issue 11), each reached and answered as the RFCs say: requests in progress per
// peer and in all (5.03 with Max-Age, nothing run), a handler past its deadline (5.03), separate responses
// that expire in the queue, Block1 uploads bounded in count and bytes (5.03) and expiring (4.08), found in
// O(1); and floods over raw UDP on 127.0.0.1 that add less than 20 MB while valid GETs are answered.
import assert from "node:assert/strict";
import {
  type Address,
  CoapServer,
  Code,
  DEFAULT_PARAMETERS,
  encode,
  encodeBlock,
  Endpoint,
  getUintOption,
  type Message,
  OptionNumber,
  type ServerOptions,
  Site,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { resolveServerLimits } from "../src/server/limits.ts";
import { bytes } from "./_hex.ts";
import { injectedTransport } from "./_injected_transport.ts";
import { runProbe } from "./_memory.ts";
import { freeUdpPort } from "./_peers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

const empty = new Uint8Array(0);
const mb = (n: number) => (n / 1048576).toFixed(1);
const at = (i: number, port = 40000): Address => ({ hostname: `10.7.${(i >> 8) & 255}.${i & 255}`, port });

/** A server on an injected transport and a virtual clock; /slow answers after `slowMs`, /upload takes Block1. */
function limitedServer(options: ServerOptions = {}, slowMs = 1000) {
  const clock = new VirtualClock();
  const wire = injectedTransport(undefined, clock);
  let slowRuns = 0;
  const site = new Site()
    .add("fast", { get: () => "fast" })
    .add("slow", {
      get: () => {
        slowRuns++;
        return new Promise<string>((resolve) => clock.setTimer(() => resolve("slow"), slowMs));
      },
    })
    .add("upload", { put: (request) => `${request.payload.length} bytes` });
  const endpoint = new Endpoint(wire.transport, { clock, seed: 2, limits: SERVER_LIMITS });
  const server = new CoapServer(site, { endpoint, ...options });
  const send = (from: Address, message: Omit<Message, "token"> & { token?: Uint8Array }) =>
    wire.inject(
      from,
      encode({ token: Uint8Array.of(message.messageId >> 8, message.messageId), ...message }),
    );
  const get = (from: Address, path: string, messageId: number) =>
    send(from, {
      type: Type.CON,
      code: Code.Get,
      messageId,
      options: [{ number: OptionNumber.UriPath, value: new TextEncoder().encode(path) }],
      payload: empty,
    });
  /** Block `num` of a PUT /upload with 64-byte blocks, Request-Tag `tag`. */
  const block = (from: Address, tag: number, num: number, more: boolean, messageId: number) =>
    send(from, {
      type: Type.CON,
      code: Code.Put,
      messageId,
      options: [
        { number: OptionNumber.UriPath, value: new TextEncoder().encode("upload") },
        { number: OptionNumber.Block1, value: encodeBlock({ num, more, szx: 2 }) },
        { number: OptionNumber.RequestTag, value: Uint8Array.of(tag >> 16, tag >> 8, tag) },
      ],
      payload: new Uint8Array(64),
    });
  const last = () => wire.sent.at(-1)!.message;
  return { clock, wire, server, get, block, last, slowRuns: () => slowRuns };
}

Deno.test("a peer with maxPendingPerPeer requests in progress gets 5.03 with Max-Age, and nothing runs; other peers are served", async () => {
  const { clock, server, get, last, slowRuns } = limitedServer({ maxPendingPerPeer: 4 });
  const flooder = at(1);
  for (let i = 0; i < 4; i++) get(flooder, "slow", i);
  assert.equal(slowRuns(), 4);
  get(flooder, "slow", 10);
  assert.deepEqual([last().type, last().code], [Type.ACK, Code.ServiceUnavailable]);
  assert.equal(getUintOption(last(), OptionNumber.MaxAge), server.limits.handlerTimeout / 1000);
  get(flooder, "fast", 11);
  assert.equal(
    last().code,
    Code.ServiceUnavailable,
    "its quick requests wait too: it has NSTART × 4 outstanding",
  );
  assert.equal(slowRuns(), 4, "a refused request never runs");
  get(at(2), "slow", 1);
  assert.equal(slowRuns(), 5, "another peer is served");
  assert.equal(server.stats.pendingResponses, 5);
  await clock.advance(2000);
  server.close();
});

Deno.test("maxPending: requests in progress across peers are bounded too", () => {
  const { server, get, last, slowRuns } = limitedServer({ maxPending: 8 });
  for (let i = 0; i < 8; i++) get(at(i), "slow", 1);
  get(at(100), "slow", 1);
  assert.deepEqual([last().code, slowRuns()], [Code.ServiceUnavailable, 8]);
  assert.ok(getUintOption(last(), OptionNumber.MaxAge)! >= 1);
  server.close();
});

Deno.test("handlerTimeout: a handler past its deadline gets the client a 5.03 (after the empty ACK), and its late answer is dropped", async () => {
  const { clock, wire, server, get } = limitedServer({ handlerTimeout: 5000 }, 60_000);
  const client = at(1);
  get(client, "slow", 1);
  await clock.advance(600);
  assert.deepEqual([wire.sent[0].message.type, wire.sent[0].message.code], [Type.ACK, 0], "the empty ACK");
  await clock.advance(4400);
  const late = wire.sent[1].message;
  assert.deepEqual([late.type, late.code], [Type.CON, Code.ServiceUnavailable]);
  wire.inject(client, bytes(`6000${late.messageId.toString(16).padStart(4, "0")}`));
  await clock.advance(60_000);
  assert.equal(wire.sent.length, 2, "the handler's own answer, when it came, was not sent");
  assert.equal(server.stats.pendingResponses, 0);
  server.close();
});

Deno.test("separate responses to a silent peer wait behind NSTART at most separateResponseLifetime; then they are dropped and the peer has room again", async () => {
  const { clock, wire, server, get, last, slowRuns } = limitedServer({
    maxPendingPerPeer: 4,
    separateResponseLifetime: 30_000,
  });
  const silent = at(1);
  for (let i = 0; i < 4; i++) get(silent, "slow", i);
  await clock.advance(1500); // empty ACKs at 500 ms, the four responses ready at 1 s: one CON goes, three queue
  const confirmables = () => wire.sent.filter((d) => d.message.type === Type.CON);
  assert.equal(new Set(confirmables().map((d) => d.message.messageId)).size, 1);
  get(silent, "slow", 10);
  assert.equal(last().code, Code.ServiceUnavailable);
  await clock.advance(30_000);
  assert.equal(server.stats.pendingResponses, 0, "all four gone after their lifetime");
  assert.equal(
    new Set(confirmables().map((d) => d.message.messageId)).size,
    1,
    "the queued three never went",
  );
  const runs = slowRuns();
  get(silent, "slow", 11);
  assert.deepEqual([slowRuns(), server.stats.pendingResponses], [runs + 1, 1], "taken again");
  await clock.advance(2000);
  server.close();
});

Deno.test("Block1: at most maxBlock1Uploads at once (5.03 with Max-Age beyond), each kept block1Lifetime after its last block (then 4.08)", async () => {
  const { clock, server, block, last } = limitedServer({ maxBlock1Uploads: 3, block1Lifetime: 10_000 });
  const peer = at(1);
  for (let tag = 1; tag <= 3; tag++) {
    block(peer, tag, 0, true, tag);
    assert.equal(last().code, Code.Continue);
  }
  block(peer, 4, 0, true, 4);
  assert.deepEqual([last().code, getUintOption(last(), OptionNumber.MaxAge)], [Code.ServiceUnavailable, 10]);
  await clock.advance(5000);
  block(peer, 1, 1, true, 5); // upload 1 is active again
  assert.equal(last().code, Code.Continue);
  await clock.advance(6000); // uploads 2 and 3 idle for 11 s: gone
  block(peer, 4, 0, true, 6);
  assert.equal(last().code, Code.Continue, "room again");
  block(peer, 2, 1, true, 7);
  assert.equal(last().code, Code.RequestEntityIncomplete, "an expired upload's next block: 4.08");
  block(peer, 1, 2, false, 8);
  assert.deepEqual([last().code, new TextDecoder().decode(last().payload)], [Code.Changed, "192 bytes"]);
  assert.equal(server.stats.block1Uploads, 1);
  server.close();
});

Deno.test("Block1: unfinished uploads' bytes are bounded per peer and in all: a block beyond either gets 5.03", () => {
  const { server, block, last } = limitedServer({ maxBlock1BytesPerPeer: 128, maxBlock1Bytes: 192 });
  const [a, b, c] = [at(1), at(2), at(3)];
  block(a, 1, 0, true, 1);
  block(a, 1, 1, true, 2);
  assert.equal(last().code, Code.Continue);
  block(a, 1, 2, true, 3);
  assert.equal(last().code, Code.ServiceUnavailable, "a's 128 bytes are its share");
  block(b, 1, 0, true, 1);
  assert.equal(last().code, Code.Continue);
  block(c, 1, 0, true, 1);
  assert.equal(last().code, Code.ServiceUnavailable, "192 bytes in all");
  assert.ok(getUintOption(last(), OptionNumber.MaxAge)! >= 1);
  block(a, 1, 2, false, 4); // a's upload is still there: its last block, sent again, completes it
  assert.deepEqual([last().code, new TextDecoder().decode(last().payload)], [Code.Changed, "192 bytes"]);
  assert.equal(server.stats.block1Bytes, 64);
  server.close();
});

Deno.test("Block1: with 40,000 unfinished uploads a block is found in O(1) (the old scan took 6.6 ms a block)", () => {
  const { server, block, last } = limitedServer({
    maxBlock1Uploads: 50_000,
    maxBlock1Bytes: 64 * 1024 * 1024,
  });
  // 50 peers with 800 uploads each (each block a PUT with a strict dedup entry, within strictPerPeer).
  for (let i = 0; i < 40_000; i++) block(at(i % 50), i, 0, true, i);
  assert.equal(server.stats.block1Uploads, 40_000);
  const started = performance.now();
  for (let i = 0; i < 1000; i++) {
    block(at(i % 50), i, 1, true, 0x8000 + i);
    assert.equal(last().code, Code.Continue);
  }
  const perBlock = (performance.now() - started) / 1000;
  console.log(`a block with 40,000 uploads held: ${(perBlock * 1000).toFixed(0)} µs`);
  assert.ok(perBlock < 1, `${perBlock.toFixed(2)} ms a block`);
  server.close();
});

Deno.test("20,000 GET /slow from one UDP port add less than 20 MB, and valid GETs are answered within 1 s throughout", async () => {
  const run = await runProbe("./_flood_probe.ts", ["slow"]);
  console.log(
    `GET /slow flood: ${run["5.03"]} × 5.03, ${run["empty ACK"]} empty ACKs in ${
      run.floodSeconds.toFixed(1)
    } s; ` +
      `memory +${mb(run.flooded - run.before)} MB; slowest valid GET ${
        run.slowestGetMs.toFixed(0)
      } ms of ${run.checks}`,
  );
  assert.ok(run.flooded - run.before < 20 * 1024 * 1024);
  assert.ok(run.slowestGetMs < 1000);
  assert.equal(run.pendingResponses, 16, "the peer's maxPendingPerPeer");
  assert.ok(run["5.03"] > 15_000, "the rest were refused before running");
});

Deno.test("40,000 unfinished Block1 uploads over UDP add less than 20 MB, and valid GETs are answered within 1 s throughout", async () => {
  const run = await runProbe("./_flood_probe.ts", ["block1"]);
  console.log(
    `Block1 flood: ${run["2.31"]} × 2.31, ${run["5.03"]} × 5.03 in ${run.floodSeconds.toFixed(1)} s; ` +
      `${run.block1Uploads} uploads of ${mb(run.block1Bytes)} MB kept; memory +${
        mb(run.flooded - run.before)
      } MB; ` +
      `slowest valid GET ${run.slowestGetMs.toFixed(0)} ms of ${run.checks}`,
  );
  assert.ok(run.flooded - run.before < 20 * 1024 * 1024);
  assert.ok(run.slowestGetMs < 1000);
  assert.equal(run.block1Uploads, 1000, "maxBlock1Uploads");
  assert.ok(run["5.03"] > 35_000);
});

Deno.test("serve --verbose prints every limit at start", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--host", "127.0.0.1", "--port", String(freeUdpPort()), "--verbose"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let printed = "";
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    for (let reads = 0; reads < 100 && !printed.includes("probingRate"); reads++) {
      const { value, done } = await reader.read();
      if (done) break;
      printed += value;
    }
    reader.releaseLock();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
  const limits = resolveServerLimits({}, DEFAULT_PARAMETERS);
  const names = [
    ...Object.keys(limits).filter((name) => name !== "observeLimits" && name !== "amplification"),
    ...Object.keys(limits.observeLimits).map((name) => `observeLimits.${name}`),
    ...Object.keys(limits.amplification).map((name) => `amplification.${name}`),
    ...Object.keys(SERVER_LIMITS).map((name) => `limits.${name}`),
    "limits.safeWindow",
    "limits.recentNons",
    "probingRate",
  ];
  for (const name of names) {
    assert.match(printed, new RegExp(`^  ${name.replace(".", "\\.")} +\\S`, "m"), name);
  }
  assert.match(printed, /^ {2}maxPendingPerPeer +16$/m);
  assert.match(printed, /^ {2}handlerTimeout +93 s$/m);
});
