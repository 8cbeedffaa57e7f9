// The ETSI CoAP#4 plugtest (td-coap4) CORE test descriptions against the plugtest server (src/demo/
// plugtest_site.ts), one test per TD: libcoap's coap-client-notls is the client wherever it can take the
// step (its -v 6 output shows every PDU: type, code, Message ID, token, options), raw datagrams where it
// cannot (an empty token, the empty ACK of a separate response, a CoAP ping).
import assert from "node:assert/strict";
import { Code, encodeString, getOption, type Message, OptionNumber, Type } from "../src/mod.ts";
import {
  coapClient,
  printedOption,
  type PrintedPdu,
  type RawPeer,
  rawPeer,
  servePlugtest,
} from "./_plugtest.ts";
import { startLossyRelay } from "./_lossy_relay.ts";
import { freeUdpPort, needs } from "./_peers.ts";
import { spawnCli } from "./_cli.ts";

const LIBCOAP = ["coap-client-notls"];
const LIBCOAP_PACKAGE = "libcoap3-bin";

/** A TD driven by coap-client, against a fresh plugtest server. */
function libcoapTd(name: string, steps: (base: string, port: number) => Promise<void>) {
  Deno.test(needs(name, LIBCOAP, LIBCOAP_PACKAGE), async () => {
    const server = servePlugtest();
    try {
      await steps(server.base, server.port);
    } finally {
      server.close();
    }
  });
}

/** A TD driven by raw datagrams, against a fresh plugtest server. */
function rawTd(name: string, steps: (port: number) => Promise<void>) {
  Deno.test(name, async () => {
    const server = servePlugtest();
    try {
      await steps(server.port);
    } finally {
      server.close();
    }
  });
}

/** The request coap-client sent and the (last) response it received. */
async function exchange(args: string[]): Promise<{ request: PrintedPdu; response: PrintedPdu }> {
  const { pdus, stdout } = await coapClient(args);
  const request = pdus[0];
  const response = pdus.findLast((pdu) => /^[2-5]\./.test(pdu.code));
  assert.ok(request !== undefined && response !== undefined, `no exchange in:\n${stdout}`);
  return { request, response };
}

/**
 * Sends `request` and returns the answer, first repeating it with the Echo value when the server challenges
 * the raw peer's unverified address (4.01 with Echo, RFC 9175 §2.4), as any client does.
 */
async function answerTo(peer: RawPeer, request: Message): Promise<Message> {
  await peer.send(request);
  const answer = await peer.receive();
  const echo = getOption(answer, OptionNumber.Echo);
  if (answer.code !== Code.Unauthorized || echo === undefined) return answer;
  const repeated = {
    ...request,
    messageId: request.messageId + 1,
    options: [...request.options, { number: OptionNumber.Echo, value: echo }],
  };
  await peer.send(repeated);
  const response = await peer.receive();
  assert.equal(response.messageId, repeated.messageId);
  return response;
}

/** The TD's check of a piggybacked answer: an ACK with the request's Message ID and token. */
function assertPiggybacked(request: PrintedPdu, response: PrintedPdu, code: string) {
  assert.equal(response.type, "ACK");
  assert.equal(response.code, code);
  assert.equal(response.messageId, request.messageId);
  assert.equal(response.token, request.token);
}

/** The TD's check of a NON answer to a NON request: a NON with the request's token. */
function assertNonAnswer(request: PrintedPdu, response: PrintedPdu, code: string) {
  assert.equal(request.type, "NON");
  assert.equal(response.type, "NON");
  assert.equal(response.code, code);
  assert.equal(response.token, request.token);
}

libcoapTd(
  "TD_COAP_CORE_01 GET /test (CON): 2.05 piggybacked, Content-Format, non-empty payload",
  async (base) => {
    const { request, response } = await exchange(["-m", "get", "-T", "c01", `${base}/test`]);
    assert.equal(request.type, "CON");
    assertPiggybacked(request, response, "2.05");
    assert.deepEqual(printedOption(response, "Content-Format"), ["text/plain"]);
    assert.ok((response.payload ?? "") !== "");
  },
);

libcoapTd("TD_COAP_CORE_02 DELETE /test (CON): 2.02 piggybacked", async (base) => {
  const { request, response } = await exchange(["-m", "delete", "-T", "c02", `${base}/test`]);
  assertPiggybacked(request, response, "2.02");
});

libcoapTd("TD_COAP_CORE_03 PUT /test (CON): 2.04 piggybacked", async (base) => {
  const { request, response } = await exchange([
    "-m",
    "put",
    "-t",
    "0",
    "-e",
    "c03",
    "-T",
    "c03",
    `${base}/test`,
  ]);
  assertPiggybacked(request, response, "2.04");
});

libcoapTd("TD_COAP_CORE_04 POST /test (CON): 2.01 piggybacked", async (base) => {
  const { request, response } = await exchange([
    "-m",
    "post",
    "-t",
    "0",
    "-e",
    "c04",
    "-T",
    "c04",
    `${base}/test`,
  ]);
  assertPiggybacked(request, response, "2.01");
});

libcoapTd("TD_COAP_CORE_05 GET /test (NON): a NON 2.05 with the token", async (base) => {
  const { request, response } = await exchange(["-N", "-m", "get", "-T", "c05", `${base}/test`]);
  assertNonAnswer(request, response, "2.05");
  assert.ok((response.payload ?? "") !== "");
});

libcoapTd("TD_COAP_CORE_06 DELETE /test (NON): a NON 2.02", async (base) => {
  const { request, response } = await exchange(["-N", "-m", "delete", "-T", "c06", `${base}/test`]);
  assertNonAnswer(request, response, "2.02");
});

libcoapTd("TD_COAP_CORE_07 PUT /test (NON): a NON 2.04", async (base) => {
  const { request, response } = await exchange([
    "-N",
    "-m",
    "put",
    "-t",
    "0",
    "-e",
    "c07",
    "-T",
    "c07",
    `${base}/test`,
  ]);
  assertNonAnswer(request, response, "2.04");
});

libcoapTd("TD_COAP_CORE_08 POST /test (NON): a NON 2.01", async (base) => {
  const { request, response } = await exchange([
    "-N",
    "-m",
    "post",
    "-t",
    "0",
    "-e",
    "c08",
    "-T",
    "c08",
    `${base}/test`,
  ]);
  assertNonAnswer(request, response, "2.01");
});

rawTd(
  "TD_COAP_CORE_09 GET /separate (CON): empty ACK, then a CON 2.05 with the token, acknowledged",
  async (port) => {
    const peer = rawPeer(port);
    try {
      const token = Uint8Array.of(0xc0, 0x09);
      await peer.send({
        type: Type.CON,
        code: Code.Get,
        messageId: 0x0909,
        token,
        options: [{ number: OptionNumber.UriPath, value: encodeString("separate") }],
        payload: new Uint8Array(),
      });
      const ack = await peer.receive();
      assert.deepEqual([ack.type, ack.code, ack.messageId, ack.token.length], [Type.ACK, 0, 0x0909, 0]);
      const response = await peer.receive();
      assert.equal(response.type, Type.CON);
      assert.equal(response.code, Code.Content);
      assert.deepEqual(response.token, token);
      assert.ok(response.payload.length > 0);
      await peer.send({ ...ack, messageId: response.messageId });
      // Acknowledged, the separate response is not sent again (its first retransmission would come at 2-3 s).
      await assert.rejects(peer.receive(3500), /nothing from the server/);
    } finally {
      peer.close();
    }
  },
);

libcoapTd("TD_COAP_CORE_10 GET /test with an 8-byte token: the answer carries it", async (base) => {
  const { request, response } = await exchange(["-m", "get", "-T", "c10token", `${base}/test`]);
  assert.equal(request.token.length, 16); // 8 bytes, in hex
  assertPiggybacked(request, response, "2.05");
});

libcoapTd(
  "TD_COAP_CORE_11 GET /separate with a token (CON): the separate CON 2.05 carries it",
  async (base) => {
    const { request, response } = await exchange(["-m", "get", "-T", "c11", `${base}/separate`]);
    assert.equal(response.type, "CON");
    assert.equal(response.code, "2.05");
    assert.notEqual(response.messageId, request.messageId);
    assert.equal(response.token, request.token);
  },
);

rawTd("TD_COAP_CORE_12 GET /test without a token: 2.05 piggybacked, without a token", async (port) => {
  const peer = rawPeer(port);
  try {
    const response = await answerTo(peer, {
      type: Type.CON,
      code: Code.Get,
      messageId: 0x1212,
      token: new Uint8Array(),
      options: [{ number: OptionNumber.UriPath, value: encodeString("test") }],
      payload: new Uint8Array(),
    });
    assert.deepEqual([response.type, response.code], [Type.ACK, Code.Content]);
    assert.equal(response.token.length, 0);
  } finally {
    peer.close();
  }
});

libcoapTd("TD_COAP_CORE_13 GET /seg1/seg2/seg3: three Uri-Path options, 2.05", async (base) => {
  const { request, response } = await exchange(["-m", "get", `${base}/seg1/seg2/seg3`]);
  assert.deepEqual(printedOption(request, "Uri-Path"), ["seg1", "seg2", "seg3"]);
  assertPiggybacked(request, response, "2.05");
  assert.ok((response.payload ?? "") !== "");
});

libcoapTd(
  "TD_COAP_CORE_14 GET /query?first=1&second=2&third=3: three Uri-Query options, 2.05",
  async (base) => {
    const { request, response } = await exchange(["-m", "get", `${base}/query?first=1&second=2&third=3`]);
    assert.deepEqual(printedOption(request, "Uri-Query"), ["first=1", "second=2", "third=3"]);
    assertPiggybacked(request, response, "2.05");
    assert.equal(response.payload, "Query: first=1&second=2&third=3");
  },
);

/**
 * Through a relay that drops 40 % of datagrams both ways; the seed makes the losses the same on every run
 * (which datagrams each seed drops is stated where it is used), and `drops` says how many that is.
 */
async function lossy(port: number, path: string, seed: number, drops: number) {
  const relay = startLossyRelay(port, { loss: 0.4, seed });
  try {
    const result = await exchange(["-m", "get", "-T", "lossy", `coap://127.0.0.1:${relay.port}/${path}`]);
    assert.equal(relay.dropped, drops);
    return result;
  } finally {
    relay.close();
  }
}

libcoapTd(
  "TD_COAP_CORE_15 GET /test (CON) in a lossy context: retransmission gets the 2.05",
  async (_base, port) => {
    const { request, response } = await lossy(port, "test", 8, 1); // the first request is lost
    assertPiggybacked(request, response, "2.05");
  },
);

libcoapTd(
  "TD_COAP_CORE_16 GET /separate (CON) in a lossy context: the separate 2.05 arrives",
  async (_base, port) => {
    // Lost: the first request, and the first transmission of the separate CON (the server retransmits it).
    const { request, response } = await lossy(port, "separate", 39, 2);
    assert.equal(response.code, "2.05");
    assert.equal(response.token, request.token);
  },
);

libcoapTd("TD_COAP_CORE_17 GET /separate (NON): a NON 2.05 with the token, later", async (base) => {
  const { request, response } = await exchange(["-N", "-m", "get", "-T", "c17", `${base}/separate`]);
  assertNonAnswer(request, response, "2.05");
});

libcoapTd("TD_COAP_CORE_18 POST /test: 2.01 with several Location-Path options", async (base) => {
  const { request, response } = await exchange(["-m", "post", "-t", "0", "-e", "c18", `${base}/test`]);
  assertPiggybacked(request, response, "2.01");
  assert.deepEqual(printedOption(response, "Location-Path"), ["location1", "location2", "location3"]);
});

libcoapTd("TD_COAP_CORE_19 POST /location-query: 2.01 with several Location-Query options", async (base) => {
  const { request, response } = await exchange([
    "-m",
    "post",
    "-t",
    "0",
    "-e",
    "c19",
    `${base}/location-query`,
  ]);
  assertPiggybacked(request, response, "2.01");
  assert.deepEqual(printedOption(response, "Location-Query"), ["first=1", "second=2"]);
});

libcoapTd("TD_COAP_CORE_20 GET /multi-format with Accept text/plain, then application/xml", async (base) => {
  const text = await exchange(["-m", "get", "-A", "0", `${base}/multi-format`]);
  assertPiggybacked(text.request, text.response, "2.05");
  assert.deepEqual(printedOption(text.response, "Content-Format"), ["text/plain"]);
  const xml = await exchange(["-m", "get", "-A", "41", `${base}/multi-format`]);
  assertPiggybacked(xml.request, xml.response, "2.05");
  assert.deepEqual(printedOption(xml.response, "Content-Format"), ["application/xml"]);
  assert.match(xml.response.payload ?? "", /^</);
});

libcoapTd(
  "TD_COAP_CORE_21 GET /validate with the ETag: 2.03 Valid; after an update, 2.05 with a new ETag",
  async (base) => {
    const first = await exchange(["-m", "get", `${base}/validate`]);
    const [etag] = printedOption(first.response, "ETag");
    assert.ok(etag !== undefined, "2.05 without an ETag");
    const valid = await exchange(["-m", "get", "-O", `4,${etag}`, `${base}/validate`]);
    assertPiggybacked(valid.request, valid.response, "2.03");
    assert.deepEqual(printedOption(valid.response, "ETag"), [etag]);
    assert.equal(valid.response.payload, undefined);
    // Another client changes the resource; the old ETag no longer validates.
    await exchange(["-m", "put", "-t", "0", "-e", "changed", `${base}/validate`]);
    const changed = await exchange(["-m", "get", "-O", `4,${etag}`, `${base}/validate`]);
    assertPiggybacked(changed.request, changed.response, "2.05");
    assert.notDeepEqual(printedOption(changed.response, "ETag"), [etag]);
    assert.equal(changed.response.payload, "changed");
  },
);

libcoapTd(
  "TD_COAP_CORE_22 PUT /validate with If-Match: 2.04 for the current ETag, 4.12 for an old one",
  async (base) => {
    const first = await exchange(["-m", "get", `${base}/validate`]);
    const [etag] = printedOption(first.response, "ETag");
    const update = await exchange([
      "-m",
      "put",
      "-t",
      "0",
      "-e",
      "c22",
      "-O",
      `1,${etag}`,
      `${base}/validate`,
    ]);
    assertPiggybacked(update.request, update.response, "2.04");
    const second = await exchange(["-m", "get", `${base}/validate`]);
    assert.notDeepEqual(printedOption(second.response, "ETag"), [etag]);
    assert.equal(second.response.payload, "c22");
    const stale = await exchange([
      "-m",
      "put",
      "-t",
      "0",
      "-e",
      "stale",
      "-O",
      `1,${etag}`,
      `${base}/validate`,
    ]);
    assertPiggybacked(stale.request, stale.response, "4.12");
  },
);

libcoapTd("TD_COAP_CORE_23 PUT /create1 with If-None-Match: 2.01, then 4.12", async (base) => {
  const args = ["-m", "put", "-t", "0", "-e", "c23", "-O", "5", `${base}/create1`];
  const created = await exchange(args);
  assertPiggybacked(created.request, created.response, "2.01");
  const refused = await exchange(args);
  assertPiggybacked(refused.request, refused.response, "4.12");
});

rawTd("TD_COAP_CORE_31 CoAP ping: an empty CON gets an RST with its Message ID", async (port) => {
  const peer = rawPeer(port);
  try {
    const ping = {
      type: Type.CON,
      code: 0,
      messageId: 0x3131,
      token: new Uint8Array(),
      options: [],
      payload: new Uint8Array(),
    };
    await peer.send(ping);
    const pong = await peer.receive();
    assert.deepEqual([pong.type, pong.code, pong.messageId, pong.token.length], [Type.RST, 0, 0x3131, 0]);
  } finally {
    peer.close();
  }
});

Deno.test(
  needs(
    "serve --plugtest lists the plugtest resources at start and answers TD_COAP_CORE_01",
    LIBCOAP,
    LIBCOAP_PACKAGE,
  ),
  async () => {
    const port = freeUdpPort();
    const child = spawnCli(["serve", "--plugtest", "--quiet", "--host", "127.0.0.1", "--port", String(port)]);
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let printed = "";
      while (!printed.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        printed += value;
      }
      reader.releaseLock();
      assert.match(
        printed,
        /^CoAP server listening on coap:\/\/127\.0\.0\.1:\d+ {2}\(\/test, \/separate, .*\/link3.*\)$/m,
      );
      const { request, response } = await exchange(["-m", "get", `coap://127.0.0.1:${port}/test`]);
      assertPiggybacked(request, response, "2.05");
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    }
  },
);
