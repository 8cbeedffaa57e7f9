// Host names (issue 14): "localhost" is ::1 and 127.0.0.1 (RFC 6761 §6.3), a name stands for all its
// addresses, and the client sends each request to one of them only — the first to answer a CoAP ping.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  resolveCoapUri,
  Site,
  TimeoutError,
  type TraceEvent,
  Type,
  UnreachableError,
} from "../src/mod.ts";
import { runCli } from "./_cli.ts";
import { needsOpenSsl } from "./_peers.ts";

const site = () => new Site().add("x", { get: () => "here" });

/** A free port on both loopbacks: bound on ::1 by the OS, then free on 127.0.0.1 too (tried a few times). */
function serversOnBothLoopbacks(build: () => Site): CoapServer[] {
  for (let attempt = 0; attempt < 20; attempt++) {
    const six = new CoapServer(build(), { hostname: "::1", port: 0 });
    try {
      const four = new CoapServer(build(), { hostname: "127.0.0.1", port: six.address.port });
      return [six, four];
    } catch (error) {
      six.close();
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("no port free on both ::1 and 127.0.0.1");
}

Deno.test("resolveCoapUri: localhost is both loopbacks, IPv4 first; a literal is itself", async () => {
  const localhost = await resolveCoapUri("coap://localhost:7000/x");
  assert.deepEqual(localhost.addresses.map((address) => address.hostname), ["127.0.0.1", "::1"]);
  assert.deepEqual(localhost.address, localhost.addresses[0]);
  const sub = await resolveCoapUri("coap://device.localhost/x");
  assert.deepEqual(sub.addresses.map((address) => address.hostname), ["127.0.0.1", "::1"]);
  const literal = await resolveCoapUri("coap://[::1]:7000/x");
  assert.deepEqual(literal.addresses, [{ hostname: "::1", port: 7000 }]);
  // RFC 6761 §6.4: .invalid never resolves.
  await assert.rejects(resolveCoapUri("coap://nowhere.invalid/x"), {
    name: "URIError",
    message: 'cannot resolve host "nowhere.invalid"',
  });
});

for (const hostname of ["::1", "127.0.0.1", undefined]) {
  Deno.test(`GET coap://localhost reaches a server bound to ${hostname ?? ":: (dual-stack)"}`, async () => {
    const server = new CoapServer(site(), { hostname, port: 0 });
    const client = new CoapClient();
    try {
      const response = await client.get(`coap://localhost:${server.address.port}/x`);
      assert.equal(`${response.codeString} ${response.text()}`, "2.05 here");
    } finally {
      client.close();
      server.close();
    }
  });
}

Deno.test("a POST to localhost runs the handler once: on a dual-stack server, and on two sockets of one port", async () => {
  let runs = 0;
  const counting = () => new Site().add("x", { post: () => void runs++ });
  const dualStack = new CoapServer(counting(), { port: 0 });
  const pair = serversOnBothLoopbacks(counting);
  const client = new CoapClient();
  try {
    for (const port of [dualStack.address.port, pair[0].address.port]) {
      runs = 0;
      const response = await client.post(`coap://localhost:${port}/x`, "1");
      assert.equal(response.codeString, "2.04");
      // Whatever else could still arrive from a second address has had time to.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(runs, 1);
    }
  } finally {
    client.close();
    dualStack.close();
    for (const server of pair) server.close();
  }
});

Deno.test("the client probes a host's addresses once and keeps the one that answered", async () => {
  const server = new CoapServer(site(), { hostname: "::1", port: 0 });
  const pings: string[] = [];
  const requests: string[] = [];
  const onTrace = (event: TraceEvent) => {
    if (event.direction !== "out" || event.message?.type !== Type.CON) return;
    (event.message.code === 0 ? pings : requests).push(event.peer.hostname);
  };
  const client = new CoapClient({ onTrace });
  try {
    const uri = `coap://localhost:${server.address.port}/x`;
    for (let i = 0; i < 3; i++) assert.equal((await client.get(uri)).text(), "here");
    assert.deepEqual(pings.sort(), ["127.0.0.1", "::1"]);
    assert.deepEqual(requests, ["::1", "::1", "::1"]);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("with nobody answering, the request goes to the first address and fails there as before", async () => {
  const [six, four] = serversOnBothLoopbacks(site);
  const port = six.address.port;
  six.close();
  four.close();
  const client = new CoapClient();
  try {
    await assert.rejects(
      client.get(`coap://localhost:${port}/x`, { timeout: 200 }),
      // The batched transport hears the ICMP port unreachable; over Deno.listenDatagram it is a timeout.
      (error: Error) =>
        (error instanceof TimeoutError || error instanceof UnreachableError) &&
        error.message.includes(`127.0.0.1:${port}`),
    );
  } finally {
    client.close();
  }
});

Deno.test("CLI: get coap://localhost reaches a ::1-only server (exit 0); an unresolvable name is exit 2", async () => {
  const server = new CoapServer(site(), { hostname: "::1", port: 0 });
  try {
    const result = await runCli(["get", `coap://localhost:${server.address.port}/x`]);
    assert.equal(result.code, 0, result.stderr);
    // Piped stdout carries only the payload; the code line goes to stderr.
    assert.equal(result.stdout, "here");
    assert.match(result.stderr, /^2\.05 Content/);
  } finally {
    server.close();
  }
  const unresolvable = await runCli(["get", "coap://nowhere.invalid/x"]);
  assert.equal(unresolvable.code, 2, unresolvable.stderr);
  assert.match(unresolvable.stderr, /cannot resolve host "nowhere\.invalid"/);
});

for (const hostname of ["::1", "127.0.0.1"]) {
  Deno.test(needsOpenSsl(`coaps://localhost reaches a DTLS server bound to ${hostname} only`), async () => {
    const key = new TextEncoder().encode("secret");
    const server = new CoapServer(site(), { hostname, port: 0, dtls: { port: 0, pskKeys: { dev1: key } } });
    // The other loopback never answers: its handshake is given up once this one is done, at close().
    const client = new CoapClient({ dtls: { psk: { identity: "dev1", key }, handshakeTimeout: 2000 } });
    try {
      const response = await client.get(`coaps://localhost:${server.secure!.address.port}/x`);
      assert.equal(response.text(), "here");
    } finally {
      client.close();
      server.close();
    }
  });
}
