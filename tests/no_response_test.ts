/**
 * No-Response (RFC 7967): the server sends no response of a declined class, yet acknowledges a CON; the
 * client's `noResponse`, `send()` and the CLI's --no-response put the option on the wire.
 */
import assert from "node:assert/strict";
import {
  type Address,
  CoapClient,
  CoapServer,
  Code,
  decode,
  encode,
  encodeNoResponse,
  Endpoint,
  OptionNumber,
  type RequestLogEntry,
  type ResponseClass,
  Site,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { injectedTransport } from "./_injected_transport.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort, needs, startProcess, waitForCoap } from "./_peers.ts";

const client: Address = { hostname: "10.0.0.2", port: 40000 };

/** A server on an injected transport: /led answers at once, /slow after 1 s (a separate response). */
function declinedServer() {
  const clock = new VirtualClock();
  const wire = injectedTransport(undefined, clock);
  const site = new Site()
    .add("led", { get: () => "on" })
    .add("slow", {
      get: () => new Promise<string>((resolve) => clock.setTimer(() => resolve("done"), 1000)),
    });
  const log: RequestLogEntry[] = [];
  const endpoint = new Endpoint(wire.transport, { clock, seed: 1, limits: SERVER_LIMITS });
  const server = new CoapServer(site, { endpoint, onLog: (entry) => log.push(entry) });
  /** Sends GET `path` declining `classes` (undefined: no option; []: value 0). */
  const get = (type: Type, messageId: number, path: string, classes?: ResponseClass[]) =>
    wire.inject(
      client,
      encode({
        type,
        code: Code.Get,
        messageId,
        token: Uint8Array.of(7),
        options: [
          { number: OptionNumber.UriPath, value: new TextEncoder().encode(path) },
          ...(classes === undefined
            ? []
            : [{ number: OptionNumber.NoResponse, value: encodeNoResponse(classes) }]),
        ],
        payload: new Uint8Array(0),
      }),
    );
  return { clock, sent: wire.sent, log, get, close: () => server.close() };
}

Deno.test("a NON declining 2.xx gets silence; value 0 wants every response", async () => {
  const server = declinedServer();
  server.get(Type.NON, 1, "led", [2]);
  await server.clock.advance(100);
  assert.equal(server.sent.length, 0);
  assert.equal(server.log[0].suppressed, true);
  server.get(Type.NON, 2, "led", []);
  await server.clock.advance(100);
  assert.deepEqual(server.sent.map((s) => [s.message.type, s.message.code]), [[Type.NON, Code.Content]]);
  server.close();
});

Deno.test("a CON declining 2.xx gets only an empty ACK, piggybacked or after a slow handler", async () => {
  const server = declinedServer();
  server.get(Type.CON, 0x1001, "led", [2]);
  server.get(Type.CON, 0x1002, "slow", [2]);
  await server.clock.advance(5000);
  assert.deepEqual(
    server.sent.map((s) => [s.message.type, s.message.code, s.message.messageId]),
    [[Type.ACK, 0, 0x1001], [Type.ACK, 0, 0x1002]],
  );
  server.close();
});

Deno.test("an error still arrives when only 2.xx is declined", async () => {
  const server = declinedServer();
  server.get(Type.CON, 0x2001, "missing", [2]);
  await server.clock.advance(100);
  assert.deepEqual(server.sent.map((s) => [s.message.type, s.message.code]), [[Type.ACK, Code.NotFound]]);
  server.get(Type.CON, 0x2002, "missing", [4]);
  await server.clock.advance(100);
  assert.deepEqual(server.sent.map((s) => [s.message.type, s.message.code]).at(-1), [Type.ACK, 0]);
  server.close();
});

Deno.test("client: request() with a declined class still waits; send() waits for nothing but the ACK", async () => {
  const handled: string[] = [];
  const site = new Site().add("readings", { post: (request) => void handled.push(request.text()) });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const coap = new CoapClient();
  const uri = `coap://127.0.0.1:${server.address.port}/readings`;
  try {
    const missing = await coap.get(`${uri}/7`, { noResponse: [2] });
    assert.equal(missing.code, Code.NotFound);
    await assert.rejects(coap.request(uri, { method: "POST", noResponse: [2, 4, 5] }), RangeError);
    await coap.send(uri, { method: "POST", payload: "con" });
    await coap.send(uri, { method: "POST", payload: "non", confirmable: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(handled, ["con", "non"]);
  } finally {
    coap.close();
    server.close();
  }
});

Deno.test("CLI: --no-response 2,4,5 puts No-Response 26 on the wire and exits once the NON is sent", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  try {
    const [result, [datagram]] = await Promise.all([
      runCli([
        "post",
        `coap://127.0.0.1:${port}/readings`,
        "--non",
        "--no-response",
        "2,4,5",
        "--payload",
        "1",
      ]),
      socket.receive(),
    ]);
    assert.deepEqual([result.code, result.stderr], [0, "sent; no response wanted\n"]);
    const message = decode(datagram);
    assert.equal(message.type, Type.NON);
    const option = message.options.find((o) => o.number === OptionNumber.NoResponse);
    assert.deepEqual(option?.value, Uint8Array.of(26));
  } finally {
    socket.close();
  }
});

Deno.test("CLI: a CON declining everything exits 0 at the empty ACK; declining 2.xx still shows a 4.04", async () => {
  const server = new CoapServer(new Site().add("led", { put: () => {} }), { hostname: "127.0.0.1", port: 0 });
  const uri = `coap://127.0.0.1:${server.address.port}`;
  try {
    const acknowledged = await runCli(["put", `${uri}/led`, "--no-response", "2,4,5", "--payload", "on"]);
    assert.deepEqual([acknowledged.code, acknowledged.stderr], [0, "acknowledged; no response wanted\n"]);
    const missing = await runCli(["get", `${uri}/lamp`, "--no-response", "2"]);
    assert.deepEqual([missing.code, missing.stdout, missing.stderr], [1, "", "4.04 Not Found\n"]);
    const usage = await runCli(["get", `${uri}/led`, "--no-response", "3"]);
    assert.equal(usage.code, 2);
  } finally {
    server.close();
  }
});

Deno.test(
  needs(
    "libcoap's coap-server declines a 2.05 for our --no-response 2",
    ["coap-server-notls"],
    "libcoap3-bin",
  ),
  async () => {
    const port = freeUdpPort();
    const peer = startProcess("coap-server-notls", ["-A", "127.0.0.1", "-p", String(port)]);
    try {
      await waitForCoap(port);
      const uri = `coap://127.0.0.1:${port}/time`;
      const silent = await runCli(["get", uri, "--non", "--no-response", "2", "--timeout", "0.5"]);
      assert.equal(silent.code, 3); // no response within the timeout: the declined 2.05 never came
      const answered = await runCli(["get", uri, "--non", "--no-response", "4,5", "--timeout", "2"]);
      assert.match(answered.stderr, /^2\.05 Content\b/);
    } finally {
      await peer.stop();
    }
  },
);
