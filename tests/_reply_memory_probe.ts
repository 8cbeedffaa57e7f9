// Run by message_layer_test.ts with --v8-flags=--expose-gc: a server answers
// 5,000 POSTs from 5,000 addresses, interleaved with other allocations so that
// replies carved from shared slabs would each hold one alive, and prints how
// much memory (heap and external) the kept replies add after GC.
import { CoapServer, Code, encode, Endpoint, OptionNumber, Site, Type, VirtualClock } from "../src/mod.ts";
import { allocateBytes } from "../src/bytes.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { injectedTransport } from "./_injected_transport.ts";
import { liveBytes } from "./_memory.ts";
const wire = injectedTransport();
const endpoint = new Endpoint(wire.transport, { clock: new VirtualClock(), seed: 1, limits: SERVER_LIMITS });
const server = new CoapServer(new Site().add("count", { post: () => "ok" }), { endpoint });
const path = { number: OptionNumber.UriPath, value: new TextEncoder().encode("count") };
const empty = new Uint8Array(0);
// Warm up, so the code and the tables are in place before measuring.
wire.inject(
  { hostname: "10.9.9.9", port: 1 },
  encode({ type: Type.CON, code: Code.Post, messageId: 1, token: empty, options: [path], payload: empty }),
);
wire.sent.length = 0;
const before = await liveBytes();
const garbage: Uint8Array[] = [];
for (let i = 0; i < 5000; i++) {
  const from = { hostname: `10.0.${i >> 8}.${i & 255}`, port: 40000 };
  wire.inject(
    from,
    encode({ type: Type.CON, code: Code.Post, messageId: i, token: empty, options: [path], payload: empty }),
  );
  // Other short-lived carvings between replies: a reply carved from the same slab would pin it.
  for (let j = 0; j < 16; j++) garbage.push(allocateBytes(1000));
  garbage.splice(0, garbage.length - 16);
}
wire.sent.length = 0;
garbage.length = 0;
const after = await liveBytes();
console.log(JSON.stringify({ cached: endpoint.stats.cachedReplies - 1, addedBytes: after - before }));
server.close();
