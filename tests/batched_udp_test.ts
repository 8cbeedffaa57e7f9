// The batched UDP transport (recvmmsg/sendmmsg through FFI): the Transport contract on IPv4 and IPv6,
// close, SO_REUSEPORT, ICMP errors up to the endpoint, client and CLI, the choice between it and
// Deno.listenDatagram, and the endpoint's one send per received batch.
import assert from "node:assert/strict";
import {
  type Address,
  batchedUdpTransport,
  CoapClient,
  CoapServer,
  Code,
  type Datagram,
  decode,
  encode,
  Endpoint,
  observable,
  OptionNumber,
  Site,
  type Transport,
  Type,
  udpTransport,
  udpTransportFor,
  UnreachableError,
  type UnreachableReason,
} from "../src/mod.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort } from "./_peers.ts";

/** Resolves with the first `count` datagrams `transport` receives, and how many receive() calls brought them. */
function collect(transport: Transport, count: number): Promise<{ datagrams: Datagram[]; calls: number }> {
  const datagrams: Datagram[] = [];
  let calls = 0;
  return new Promise((resolve) => {
    transport.listen((batch) => {
      calls++;
      datagrams.push(...batch);
      if (datagrams.length >= count) resolve({ datagrams, calls });
    });
  });
}

/** A free UDP port on ::1. */
function freeUdp6Port(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "::1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test(`${hostname}: a batch of 100 datagrams in one send arrives intact, from the sender's address`, async () => {
    const a = batchedUdpTransport({ hostname, port: 0 });
    const b = batchedUdpTransport({ hostname, port: 0 });
    assert.equal(a.kind, "batched");
    assert.equal(a.local.hostname, hostname);
    assert.ok(a.local.port > 0);
    const received = collect(b, 100);
    const batch = Array.from({ length: 100 }, (_, i) => ({
      data: new Uint8Array(i + 1).fill(i), // 1 … 100 bytes, each byte its index
      address: b.local,
    }));
    a.send(batch);
    const { datagrams, calls } = await received;
    assert.ok(calls <= 100 && calls >= 2, `${calls} receive calls: at most 64 datagrams per recvmmsg`);
    const sorted = datagrams.sort((x, y) => x.data.length - y.data.length);
    sorted.forEach((datagram, i) => {
      assert.deepEqual(datagram.data, new Uint8Array(i + 1).fill(i));
      assert.deepEqual(datagram.address, a.local);
    });
    a.close();
    b.close();
  });
}

Deno.test("a '::' socket reports IPv4 peers as ::ffff:a.b.c.d, as udpTransport does, and answers them", async () => {
  const batched = batchedUdpTransport({ hostname: "::", port: 0 });
  const deno = udpTransport({ hostname: "::", port: 0 });
  const peer = udpTransport({ hostname: "127.0.0.1", port: 0 });
  const viaBatched = collect(batched, 1);
  const viaDeno = collect(deno, 1);
  const ping = Uint8Array.of(0x40, 0, 0, 1);
  peer.send([
    { data: ping, address: { hostname: "127.0.0.1", port: batched.local.port } },
    { data: ping, address: { hostname: "127.0.0.1", port: deno.local.port } },
  ]);
  const [fromBatched] = (await viaBatched).datagrams;
  const [fromDeno] = (await viaDeno).datagrams;
  assert.deepEqual(fromBatched.address, { hostname: "::ffff:127.0.0.1", port: peer.local.port });
  assert.deepEqual(fromBatched.address, fromDeno.address);
  const answer = collect(peer, 1);
  batched.send([{ data: Uint8Array.of(7), address: fromBatched.address }]);
  const [back] = (await answer).datagrams;
  assert.deepEqual(back, {
    data: Uint8Array.of(7),
    address: { hostname: "127.0.0.1", port: batched.local.port },
  });
  batched.close();
  deno.close();
  peer.close();
});

Deno.test("close() wakes the waiting receive and releases the socket: the port can be bound again", async () => {
  const first = batchedUdpTransport({ hostname: "127.0.0.1", port: 0 });
  const { port } = first.local;
  first.listen(() => {});
  first.close();
  first.close(); // once only
  first.send([{ data: Uint8Array.of(1), address: first.local }]); // ignored, never thrown
  // The descriptor is closed by the receive loop once poll() returns: shortly after close().
  await new Promise((resolve) => setTimeout(resolve, 20));
  const again = batchedUdpTransport({ hostname: "127.0.0.1", port });
  again.close(); // never listened: closed at once
  batchedUdpTransport({ hostname: "127.0.0.1", port }).close();
});

Deno.test("reusePort: two sockets bind one port; without it the second is refused with AddrInUse", () => {
  const one = batchedUdpTransport({ hostname: "127.0.0.1", port: 0, reusePort: true });
  const two = batchedUdpTransport({ hostname: "127.0.0.1", port: one.local.port, reusePort: true });
  assert.equal(two.local.port, one.local.port);
  assert.throws(
    () => batchedUdpTransport({ hostname: "127.0.0.1", port: one.local.port }),
    Deno.errors.AddrInUse,
  );
  one.close();
  two.close();
});

for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test(`${hostname}: an ICMP port unreachable reaches onUnreachable, naming the destination`, async () => {
    const closed = { hostname, port: hostname === "::1" ? freeUdp6Port() : freeUdpPort() };
    const seen: [Address, UnreachableReason][] = [];
    let resolve: () => void;
    const both = new Promise<void>((done) => resolve = done);
    const note = (address: Address, reason: UnreachableReason) => {
      seen.push([address, reason]);
      if (seen.length === 2) resolve();
    };
    const transport = batchedUdpTransport({ hostname, port: 0, onUnreachable: note });
    transport.listen(() => {}, note);
    transport.send([{ data: Uint8Array.of(0x40, 0, 0, 1), address: closed }]);
    await both;
    assert.deepEqual(seen, [[closed, "port unreachable"], [closed, "port unreachable"]]);
    transport.close();
  });
}

Deno.test("the client fails a request to a closed port with UnreachableError within 1 s", async () => {
  const client = new CoapClient({ udp: "batched" }); // whatever COAP_UDP says: Deno's socket hears no ICMP
  const port = freeUdpPort();
  const started = performance.now();
  const error = await client.get(`coap://127.0.0.1:${port}/x`).catch((error) => error);
  const elapsed = performance.now() - started;
  assert.ok(error instanceof UnreachableError, String(error));
  assert.equal(error.message, `127.0.0.1:${port}: port unreachable`);
  assert.ok(elapsed < 1000, `${elapsed} ms`);
  // A NON request has no CON to fail: the client fails it when the endpoint reports the peer.
  const non = performance.now();
  await assert.rejects(client.get(`coap://127.0.0.1:${port}/x`, { confirmable: false }), UnreachableError);
  assert.ok(performance.now() - non < 1000);
  // localhost is 127.0.0.1 and ::1: both pings fail at once, and so does the request.
  const viaName = performance.now();
  await assert.rejects(client.get(`coap://localhost:${port}/x`), UnreachableError);
  assert.ok(performance.now() - viaName < 1000);
  client.close();
});

Deno.test("an unreachable peer fails every CON to it, the one in flight and those queued behind NSTART", async () => {
  let unreachable: (address: Address, reason: UnreachableReason) => void = () => {};
  const transport: Transport = {
    local: { hostname: "10.0.0.1", port: 40000 },
    listen: (_receive, onUnreachable) => void (unreachable = onUnreachable!),
    send: () => {},
    close: () => {},
  };
  const endpoint = new Endpoint(transport);
  const server = { hostname: "10.0.0.2", port: 5683 };
  const other = endpoint.confirmable(get(), endpoint.peer({ hostname: "10.0.0.3", port: 5683 }));
  const exchanges = [1, 2, 3].map(() => endpoint.confirmable(get(), endpoint.peer(server)));
  unreachable(server, "host unreachable");
  for (const exchange of exchanges) {
    await assert.rejects(exchange.acknowledged, (error) => {
      assert.ok(error instanceof UnreachableError);
      assert.deepEqual([error.address, error.reason], [server, "host unreachable"]);
      return true;
    });
  }
  assert.equal(endpoint.stats.outstanding, 1); // the other peer's CON goes on
  endpoint.close();
  await assert.rejects(other.acknowledged);
});

Deno.test("the endpoint answers a received batch with one send carrying all its replies", () => {
  let deliver: (batch: Datagram[]) => void = () => {};
  const sends: Datagram[][] = [];
  const transport: Transport = {
    local: { hostname: "10.0.0.1", port: 5683 },
    listen: (receive) => void (deliver = receive),
    send: (batch) => void sends.push(batch),
    close: () => {},
  };
  const server = new CoapServer(new Site().add("t", { get: () => "22.5" }), {
    endpoint: new Endpoint(transport),
  });
  const batch = [1, 2, 3].map((messageId) => ({
    data: encode({
      ...get(),
      type: Type.CON,
      messageId,
      token: Uint8Array.of(messageId),
      options: path("t"),
    }),
    address: { hostname: "10.0.0.2", port: 40000 + messageId },
  }));
  deliver(batch);
  assert.equal(sends.length, 1);
  assert.deepEqual(
    sends[0].map(({ data, address }) => [decode(data).type, decode(data).messageId, address.port]),
    [[Type.ACK, 1, 40001], [Type.ACK, 2, 40002], [Type.ACK, 3, 40003]],
  );
  // Outside a received batch a send goes out at once, alone.
  server.endpoint.sendNonConfirmable(get(), server.endpoint.peer({ hostname: "10.0.0.2", port: 40001 }));
  assert.equal(sends.length, 2);
  server.close();
});

Deno.test("the CLI exits 3 with 'port unreachable' within 1 s for a port nobody listens on", async () => {
  const port = freeUdpPort();
  const started = performance.now();
  const result = await runCli(["get", `coap://127.0.0.1:${port}/x`, "--udp", "batched"]);
  const elapsed = performance.now() - started;
  assert.equal(result.code, 3, result.stderr);
  assert.equal(result.stderr.trim(), `error: 127.0.0.1:${port}: port unreachable`);
  assert.ok(elapsed < 1000, `${elapsed} ms`);
});

Deno.test("udp: 'deno' and COAP_UDP=deno pick Deno.listenDatagram; 'auto' picks batched unless COAP_UDP says", () => {
  const forced = Deno.env.get("COAP_UDP");
  const fallback = udpTransportFor({ hostname: "127.0.0.1", port: 0, udp: "deno" });
  assert.equal(fallback.kind, "deno");
  fallback.close();
  const server = new CoapServer(new Site(), { hostname: "127.0.0.1", port: 0 });
  assert.equal(server.endpoint.transport.kind, forced || "batched");
  server.close();
  try {
    Deno.env.set("COAP_UDP", "deno");
    const chosen = udpTransportFor({ hostname: "127.0.0.1", port: 0 });
    assert.equal(chosen.kind, "deno");
    chosen.close();
    const explicit = udpTransportFor({ hostname: "127.0.0.1", port: 0, udp: "batched" });
    assert.equal(explicit.kind, "batched"); // an explicit choice wins over the environment
    explicit.close();
    Deno.env.set("COAP_UDP", "tcp");
    assert.throws(() => udpTransportFor({ hostname: "127.0.0.1", port: 0 }), /COAP_UDP=tcp/);
  } finally {
    if (forced === undefined) Deno.env.delete("COAP_UDP");
    else Deno.env.set("COAP_UDP", forced);
  }
  const named = udpTransportFor({ hostname: "localhost", port: 0 }); // a name: only Deno resolves it
  assert.equal(named.kind, "deno");
  named.close();
});

Deno.test("without --allow-ffi 'auto' falls back silently and 'batched' says why it cannot run", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  const choice = new URL("../src/transport/udp_choice.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { udpTransportFor } from "${choice}";
const auto = udpTransportFor({ hostname: "127.0.0.1", port: 0 });
console.log(auto.kind);
auto.close();
try { udpTransportFor({ hostname: "127.0.0.1", port: 0, udp: "batched" }); } catch (error) { console.log(error.message); }
`,
  );
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-net", "--allow-read", "--unstable-net", script],
      env: { COAP_UDP: "" },
    }).output();
    const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
    assert.deepEqual(lines, ["deno", "the batched UDP transport cannot run: run deno with --allow-ffi"]);
  } finally {
    await Deno.remove(script);
  }
});

function get() {
  return { code: Code.Get, token: Uint8Array.of(1), options: [], payload: new Uint8Array() };
}

function path(segment: string) {
  return [{ number: 11, value: new TextEncoder().encode(segment) }];
}

Deno.test("the CLI exits 3 with 'port unreachable' within 1 s for a coaps:// port nobody listens on", async () => {
  const port = freeUdpPort();
  const started = performance.now();
  const target = `coaps://127.0.0.1:${port}/x`;
  const result = await runCli(["get", target, "--udp", "batched", "--psk-identity", "a", "--psk", "secret"]);
  const elapsed = performance.now() - started;
  assert.equal(result.code, 3, result.stderr);
  assert.equal(result.stderr.trim(), `error: 127.0.0.1:${port}: port unreachable`);
  assert.ok(elapsed < 1000, `${elapsed} ms`);
});

Deno.test("observers whose ports close are dropped at the next NON notification, the others notified", async () => {
  const resource = observable({ get: () => "x" }, { conEvery: 0 }); // NON notifications only
  const server = new CoapServer(new Site().add("x", resource), {
    hostname: "127.0.0.1",
    port: 0,
    udp: "batched",
  });
  const sockets = Array.from(
    { length: 20 },
    () => Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 }),
  );
  try {
    for (const [i, socket] of sockets.entries()) {
      const register = encode({
        type: Type.CON,
        code: Code.Get,
        messageId: i,
        token: Uint8Array.of(i),
        options: [{ number: OptionNumber.Observe, value: new Uint8Array() }, {
          number: OptionNumber.UriPath,
          value: new TextEncoder().encode("x"),
        }],
        payload: new Uint8Array(),
      });
      await socket.send(register, { transport: "udp", ...server.address });
      await socket.receive(); // the first response
    }
    assert.equal(server.observerCount, 20);
    // Ten observers go away without deregistering: their ports answer with ICMP port unreachable.
    for (const socket of sockets.splice(0, 10)) socket.close();
    resource.changed();
    const deadline = performance.now() + 1000;
    while (server.observerCount > 10 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(server.observerCount, 10);
    for (const socket of sockets) assert.equal(decode((await socket.receive())[0]).type, Type.NON);
  } finally {
    for (const socket of sockets) socket.close();
    server.close();
  }
});
