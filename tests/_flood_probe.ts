// Run by server_limits_test.ts with --v8-flags=--expose-gc: the demo server on 127.0.0.1 under a flood
// from raw UDP sockets, while a client GETs /temperature every 50 ms. `slow`: 20,000 GET /slow from one
// port; `block1`: 40,000 Block1 uploads that never finish (block 0 of each, from 40 ports). Prints live
// memory before and once the flood is in, the answers the flood got, and the slowest valid GET.
import {
  CoapClient,
  type CoapOption,
  CoapServer,
  Code,
  decode,
  encode,
  encodeBlock,
  OptionNumber,
  Type,
} from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { liveBytes } from "./_memory.ts";

const mode = Deno.args[0];
const demo = demoSite();
const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
const target = { transport: "udp" as const, hostname: "127.0.0.1", port: server.address.port };
const base = `coap://127.0.0.1:${server.address.port}`;
const path = (name: string) => ({ number: OptionNumber.UriPath, value: new TextEncoder().encode(name) });
const client = new CoapClient();
await client.get(`${base}/temperature`);
await client.get(`${base}/slow`);
const before = await liveBytes();

let slowest = 0;
let checks = 0;
let checking = true;
const checker = (async () => {
  while (checking) {
    const started = performance.now();
    const response = await client.get(`${base}/temperature`);
    if (response.code !== Code.Content) throw new Error(`valid GET answered ${response.codeString}`);
    slowest = Math.max(slowest, performance.now() - started);
    checks++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
})();

/** Datagram i of the flood, and the socket it goes from. */
const floods = {
  slow: { count: 20_000, ports: 1, datagram: (i: number) => request(Code.Get, i, [path("slow")]) },
  block1: {
    count: 40_000,
    ports: 40,
    datagram: (i: number) =>
      request(Code.Put, i, [
        path("upload"),
        { number: OptionNumber.Block1, value: encodeBlock({ num: 0, more: true, szx: 6 }) },
        // Each upload its own (RFC 9175 Request-Tag), so none continues another.
        { number: OptionNumber.RequestTag, value: Uint8Array.of(i >> 16, i >> 8, i) },
      ], new Uint8Array(1024)),
  },
};
const flood = floods[mode as keyof typeof floods];
if (flood === undefined) throw new Error(`mode is slow or block1, not ${mode}`);

function request(code: number, i: number, options: CoapOption[], payload = new Uint8Array(0)) {
  return encode({
    type: Type.CON,
    code,
    messageId: i & 0xffff,
    token: Uint8Array.of(i >> 24, i >> 16, i >> 8, i),
    options,
    payload,
  });
}

const sockets = Array.from(
  { length: flood.ports },
  () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
);
const answers = new Map<string, number>();
const readers = sockets.map(async (socket) => {
  for await (const [data] of socket) {
    const message = decode(data);
    const name = message.code === 0
      ? "empty ACK"
      : `${message.code >> 5}.${String(message.code & 31).padStart(2, "0")}`;
    answers.set(name, (answers.get(name) ?? 0) + 1);
  }
});
// Paced in bursts, so the server's socket buffer drops as little as a real link would let through.
const started = performance.now();
for (let i = 0; i < flood.count; i++) {
  await sockets[i % flood.ports].send(flood.datagram(i), target);
  if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
}
const floodSeconds = (performance.now() - started) / 1000;
await new Promise((resolve) => setTimeout(resolve, 500));
const flooded = await liveBytes();
const stats = server.stats;
checking = false;
await checker;
for (const socket of sockets) socket.close();
await Promise.allSettled(readers);
client.close();
server.close();
demo.stop();
console.log(JSON.stringify({
  before,
  flooded,
  floodSeconds,
  slowestGetMs: slowest,
  checks,
  pendingResponses: stats.pendingResponses,
  block1Uploads: stats.block1Uploads,
  block1Bytes: stats.block1Bytes,
  ...Object.fromEntries(answers),
}));
