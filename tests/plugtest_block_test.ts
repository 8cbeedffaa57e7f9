// The ETSI CoAP#4 plugtest's BLOCK test descriptions (td-coap4 block.yml, RFC 7959) against
// src/demo/plugtest_block.ts: libcoap's coap-client runs each transfer; raw datagrams check the block
// fields a step prescribes (NUM, M, SZX, payload size) where coap-client would not show them.
import assert from "node:assert/strict";
import {
  blockSize,
  type CoapOption,
  CoapServer,
  Code,
  ContentFormat,
  decodeBlock,
  decodeString,
  encodeBlock,
  encodeString,
  encodeUint,
  getOption,
  getOptions,
  OptionNumber,
  Site,
  Type,
} from "../src/mod.ts";
import { addBlockResources, LARGE_TEXT } from "../src/demo/plugtest_block.ts";
import { needs, runCommand } from "./_peers.ts";
import { rawPeer } from "./_raw_peer.ts";

const CLIENT = "coap-client-notls";
const LIBCOAP = "libcoap3-bin";
/** SZX 2: the 64-byte blocks the tests ask coap-client for (`-b 64`). */
const SZX_64 = 2;

/** A server with only the block resources, and coap-client pointed at it; `close` stops the server. */
function start() {
  const site = new Site();
  addBlockResources(site);
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const base = `coap://127.0.0.1:${server.address.port}`;
  const client = async (args: string[]) => {
    // -B: give up after 5 s rather than libcoap's 90 s when something goes wrong.
    const result = await runCommand(CLIENT, ["-B", "5", ...args], 15_000);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };
  return { server, base, client, close: () => server.close() };
}

/** coap-client prints the payload and a newline. */
const printed = (body: string) => `${body}\n`;

/** A body of 3,000 bytes of base64 lines, for uploads. */
async function uploadFile(): Promise<{ path: string; body: string }> {
  const random = crypto.getRandomValues(new Uint8Array(2250));
  const body = btoa(String.fromCharCode(...random)).replace(/.{1,76}/g, "$&\n");
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, body);
  return { path, body };
}

const uriPath = (path: string): CoapOption => ({ number: OptionNumber.UriPath, value: encodeString(path) });

/** One raw CON GET /large with these Block2 fields; the answer's Block2 and payload size. */
async function rawBlock(port: number, block?: { num: number; szx: number }) {
  const peer = rawPeer(port);
  try {
    const options = [uriPath("large")];
    if (block) options.push({ number: OptionNumber.Block2, value: encodeBlock({ ...block, more: false }) });
    const answer = await peer.request({
      type: Type.CON,
      code: Code.Get,
      messageId: 0x4001,
      token: Uint8Array.of(7),
      options,
    });
    assert.equal(answer.code, Code.Content, new TextDecoder().decode(answer.payload));
    return { block: decodeBlock(getOption(answer, OptionNumber.Block2)!), size: answer.payload.length };
  } finally {
    peer.close();
  }
}

Deno.test(
  needs("TD_COAP_BLOCK_01: GET /large, early negotiation (64-byte blocks)", [CLIENT], LIBCOAP),
  async () => {
    const { base, client, server, close } = start();
    try {
      // Step 3: NUM 0, M 1, SZX as asked, a full block.
      const first = await rawBlock(server.address.port, { num: 0, szx: SZX_64 });
      assert.deepEqual(first, { block: { num: 0, more: true, szx: SZX_64 }, size: 64 });
      // Step 7: the last block has M 0 and at most a block.
      const lastNum = Math.ceil(LARGE_TEXT.length / 64) - 1;
      const last = await rawBlock(server.address.port, { num: lastNum, szx: SZX_64 });
      assert.deepEqual(last.block, { num: lastNum, more: false, szx: SZX_64 });
      assert.ok(last.size > 0 && last.size <= 64);
      // Steps 2-8 in full, and step 9: no gaps, right order.
      assert.equal(await client(["-b", "64", `${base}/large`]), printed(LARGE_TEXT));
    } finally {
      close();
    }
  },
);

Deno.test(needs("TD_COAP_BLOCK_02: GET /large, late negotiation", [CLIENT], LIBCOAP), async () => {
  const { base, client, server, close } = start();
  try {
    // Step 3: without Block2 in the request the server picks the block size (1024, SZX 6) itself.
    const first = await rawBlock(server.address.port);
    assert.deepEqual(first, { block: { num: 0, more: true, szx: 6 }, size: 1024 });
    // Step 4: the client may continue with smaller blocks, from block k = 2^(6 - 2) = 16.
    const smaller = await rawBlock(server.address.port, { num: 16, szx: SZX_64 });
    assert.deepEqual(smaller, { block: { num: 16, more: true, szx: SZX_64 }, size: 64 });
    assert.equal(await client([`${base}/large`]), printed(LARGE_TEXT));
  } finally {
    close();
  }
});

Deno.test(
  needs("TD_COAP_BLOCK_03: PUT /large-update in blocks, then GET it", [CLIENT], LIBCOAP),
  async () => {
    const { base, client, close } = start();
    const { path, body } = await uploadFile();
    try {
      assert.equal(
        await client(["-m", "put", "-b", "64", "-t", "0", "-f", path, `${base}/large-update`]),
        "",
      );
      // Step 9: the server has the complete updated resource.
      assert.equal(await client([`${base}/large-update`]), printed(body));
    } finally {
      close();
      await Deno.remove(path);
    }
  },
);

Deno.test(
  needs("TD_COAP_BLOCK_04: POST /large-create in blocks: 2.01 with Location-Path", [CLIENT], LIBCOAP),
  async () => {
    const { base, client, server, close } = start();
    const { path, body } = await uploadFile();
    const peer = rawPeer(server.address.port);
    try {
      // Steps 2-7 by hand: every block but the last gets 2.31 Continue, M 1 (atomic); the last 2.01.
      const blocks = Math.ceil(body.length / 64);
      const bytes = new TextEncoder().encode(body);
      for (let num = 0; num < blocks; num++) {
        const more = num < blocks - 1;
        await peer.send({
          type: Type.CON,
          code: Code.Post,
          messageId: 0x5000 + num,
          token: Uint8Array.of(num),
          options: [
            uriPath("large-create"),
            { number: OptionNumber.ContentFormat, value: encodeUint(ContentFormat.TextPlain) },
            { number: OptionNumber.Block1, value: encodeBlock({ num, more, szx: SZX_64 }) },
          ],
          payload: bytes.subarray(num * 64, (num + 1) * 64),
        });
        const answer = await peer.next();
        assert.ok(answer, `no answer to block ${num}`);
        assert.equal(answer.code, more ? Code.Continue : Code.Created);
        assert.deepEqual(decodeBlock(getOption(answer, OptionNumber.Block1)!), { num, more, szx: SZX_64 });
        if (!more) {
          // Two Location-Path options: "large-create" and one segment the server chose, neither with a "/".
          const location = getOptions(answer, OptionNumber.LocationPath).map(decodeString);
          assert.equal(location.length, 2);
          assert.equal(location[0], "large-create");
          assert.ok(!location[1].includes("/"));
          // Steps 9-11 (optional): GET the created resource.
          assert.equal(await client([`${base}/large-create/${location[1]}`]), printed(body));
        }
      }
      // And the whole transfer by libcoap.
      const output = await client(["-m", "post", "-b", "64", "-t", "0", "-f", path, `${base}/large-create`]);
      assert.equal(output, "");
      assert.equal(await client([`${base}/large-create/2`]), printed(body));
    } finally {
      peer.close();
      close();
      await Deno.remove(path);
    }
  },
);

Deno.test(needs("TD_COAP_BLOCK_05: POST /large-post, blocks both ways", [CLIENT], LIBCOAP), async () => {
  const { base, client, close } = start();
  const { path, body } = await uploadFile();
  try {
    // The answer is as large as the body: Block1 up, then Block2 down, all in 64-byte blocks.
    const output = await client(["-m", "post", "-b", "64", "-t", "0", "-f", path, `${base}/large-post`]);
    assert.equal(output, printed(body));
  } finally {
    close();
    await Deno.remove(path);
  }
});

Deno.test(
  needs("TD_COAP_BLOCK_06: GET /large, early negotiation, 16-byte blocks", [CLIENT], LIBCOAP),
  async () => {
    const { base, client, server, close } = start();
    try {
      const first = await rawBlock(server.address.port, { num: 0, szx: 0 });
      assert.deepEqual(first, { block: { num: 0, more: true, szx: 0 }, size: blockSize(0) });
      assert.equal(await client(["-b", "16", `${base}/large`]), printed(LARGE_TEXT));
    } finally {
      close();
    }
  },
);
