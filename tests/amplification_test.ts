// Amplification control (RFC 7252 §11.3, RFC 9175 §2.4) with the defaults, over UDP on 127.0.0.1: no
// single datagram from an unverified address gets more than 3× its size back from any demo resource or
// discovery; a GET of a large resource is challenged with Echo, which our client and libcoap answer; a
// request unsafe to repeat gets a smaller block instead, and runs once.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  Code,
  decode,
  decodeBlock,
  encode,
  type Message,
  OptionNumber,
  Site,
  Type,
} from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { needs, runCommand } from "./_peers.ts";

const text = new TextEncoder();
const empty = new Uint8Array(0);

function get(path: string[], messageId: number, extra: Message["options"] = []): Uint8Array {
  return encode({
    type: Type.CON,
    code: Code.Get,
    messageId,
    token: Uint8Array.of(0xa1, 0xb2),
    options: [...path.map((s) => ({ number: OptionNumber.UriPath, value: text.encode(s) })), ...extra],
    payload: empty,
  });
}

/** Sends one datagram from a fresh socket and collects what comes back for `ms`, answering nothing. */
async function oneShot(port: number, datagram: Uint8Array, ms = 700): Promise<Uint8Array[]> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
  const reading = (async () => {
    try {
      for await (const [data] of socket) received.push(data);
    } catch {
      // closed
    }
  })();
  await socket.send(datagram, { transport: "udp", hostname: "127.0.0.1", port });
  await new Promise((resolve) => setTimeout(resolve, ms));
  socket.close();
  await reading;
  return received;
}

Deno.test("every demo resource and discovery answers a single unverified GET with at most 3× its bytes", async () => {
  const demo = demoSite();
  const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
  try {
    const paths = [...demo.site.entries()].map(([path]) => path.slice(1).split("/"));
    paths.push([".well-known", "core"]);
    for (const path of paths) {
      const request = get(path, 0x100);
      const answers = await oneShot(server.address.port, request);
      const bytes = answers.reduce((sum, a) => sum + a.length, 0);
      assert.ok(answers.length > 0, `/${path.join("/")} answered`);
      assert.ok(
        bytes <= 3 * request.length,
        `/${path.join("/")}: ${request.length} B → ${bytes} B (${(bytes / request.length).toFixed(1)}×)`,
      );
    }
  } finally {
    server.close();
    demo.stop();
  }
});

Deno.test("a large GET is challenged with 4.01 and Echo; the repeat with Echo verifies the address for full blocks", async () => {
  const demo = demoSite();
  const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port: server.address.port };
  try {
    await socket.send(get(["large"], 1), target);
    const challenge = decode((await socket.receive())[0]);
    assert.equal(challenge.code, Code.Unauthorized);
    const echo = challenge.options.find((o) => o.number === OptionNumber.Echo)!;
    assert.equal(echo.value.length, 8);
    await socket.send(get(["large"], 2, [{ number: OptionNumber.Echo, value: echo.value }]), target);
    const first = decode((await socket.receive())[0]);
    assert.equal(first.code, Code.Content);
    const block = first.options.find((o) => o.number === OptionNumber.Block2)!;
    assert.deepEqual(decodeBlock(block.value), { num: 0, more: true, szx: 6 }, "verified: 1024-byte blocks");
    // A wrong Echo verifies nothing: another address gets a fresh challenge.
    const stranger = await oneShot(
      server.address.port,
      get(["large"], 3, [{ number: OptionNumber.Echo, value: echo.value }]),
    );
    assert.equal(decode(stranger[0]).code, Code.Unauthorized);
  } finally {
    socket.close();
    server.close();
    demo.stop();
  }
});

Deno.test("our client answers the Echo challenge by itself and gets /large and discovery whole", async () => {
  const demo = demoSite();
  const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
  const client = new CoapClient();
  try {
    const large = await client.get(`coap://127.0.0.1:${server.address.port}/large`);
    assert.equal(large.code, Code.Content);
    assert.ok(large.payload.length > 3000);
    const links = await client.get(`coap://127.0.0.1:${server.address.port}/.well-known/core`);
    assert.match(links.text(), /<\/temperature>/);
  } finally {
    client.close();
    server.close();
    demo.stop();
  }
});

Deno.test("a POST with a large answer is never challenged (its handler would run again): it gets a block that fits, and runs once", async () => {
  let runs = 0;
  const site = new Site().add("create", {
    post: () => {
      runs++;
      return "x".repeat(3000);
    },
  });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  try {
    const post = encode({
      type: Type.CON,
      code: Code.Post,
      messageId: 9,
      token: Uint8Array.of(1, 2, 3, 4),
      options: [{ number: OptionNumber.UriPath, value: text.encode("create") }],
      payload: empty,
    });
    const [answer] = await oneShot(server.address.port, post);
    const message = decode(answer);
    assert.equal(message.code, Code.Changed);
    assert.ok(answer.length <= 3 * post.length, `${post.length} B → ${answer.length} B`);
    const block = decodeBlock(message.options.find((o) => o.number === OptionNumber.Block2)!.value);
    assert.equal(block.more, true);
    assert.ok(block.szx < 6, "a block smaller than asked");
    assert.equal(runs, 1);
    // Our client follows the smaller blocks to the end, still with one run.
    const client = new CoapClient();
    const whole = await client.post(`coap://127.0.0.1:${server.address.port}/create`, "");
    client.close();
    assert.equal(whole.payload.length, 3000);
    assert.equal(runs, 2);
  } finally {
    server.close();
  }
});

Deno.test({
  ...needs(
    "libcoap coap-client-notls answers the Echo challenge: GET /large and discovery whole, with the defaults",
    [
      "coap-client-notls",
    ],
    "libcoap3-bin",
  ),
  async fn() {
    const demo = demoSite();
    const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
    const client = new CoapClient();
    try {
      const base = `coap://127.0.0.1:${server.address.port}`;
      const large = await runCommand("coap-client-notls", ["-b", "64", "-m", "get", `${base}/large`]);
      assert.equal(large.code, 0, large.stderr);
      assert.equal(large.stdout.trimEnd(), (await client.get(`${base}/large`)).text().trimEnd());
      const links = await runCommand("coap-client-notls", ["-m", "get", `${base}/.well-known/core`]);
      assert.match(links.stdout, /<\/temperature>/);
    } finally {
      client.close();
      server.close();
      demo.stop();
    }
  },
});
