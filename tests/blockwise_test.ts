// Block-wise transfers (RFC 7959) over UDP: Block2 downloads with early
// negotiation and ETag restarts, Block1 uploads with 2.31, 4.08 and 4.13,
// concurrent uploads kept apart, block-wise notifications, and 1 MB each way
// through a relay dropping 20 % of datagrams.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  decode,
  decodeBlock,
  observable,
  OptionNumber,
  Site,
  Type,
} from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { bytes } from "./_hex.ts";
import { startLossyRelay } from "./_lossy_relay.ts";
import { randomBytes, seededRandom } from "./_random.ts";

async function sha256(data: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function serve(site: Site, maxBodySize?: number) {
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0, maxBodySize });
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
  const { server, base } = serve(site, 4096);
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
