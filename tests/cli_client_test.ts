// The client commands as a user runs them: output, exit codes, and what a
// silent peer sees on the wire.
import assert from "node:assert/strict";
import { CoapServer, decode, type Message } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { runCli } from "./_cli.ts";

Deno.test("get, put, --json, discover, 4.04 and usage errors against the demo server", async () => {
  const server = new CoapServer(demoSite().site, { hostname: "127.0.0.1", port: 0 });
  const base = `coap://127.0.0.1:${server.address.port}`;
  try {
    const reading = await runCli(["get", `${base}/temperature`]);
    assert.equal(reading.code, 0, reading.stderr);
    assert.match(reading.stdout, /^2\.05 Content\n\d+\.\d\n$/);
    const missing = await runCli(["get", `${base}/nope`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /^4\.04 Not Found/);
    assert.equal((await runCli(["put", `${base}/led`, "--payload", "on"])).code, 0);
    const json = await runCli(["get", `${base}/led`, "--json"]);
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual([parsed.code, parsed.codeName, parsed.payload], ["2.05", "Content", "on"]);
    assert.ok(parsed.rttMs >= 0);
    const bad = await runCli(["put", `${base}/led`, "--payload", "purple"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /^4\.00 Bad Request\nexpected "on" or "off"/);
    const table = await runCli(["discover", base]);
    assert.equal(table.code, 0);
    for (const path of ["/temperature", "/led", "/config"]) {
      assert.match(table.stdout, new RegExp(`^${path} `, "m"));
    }
    for (
      const args of [["get", "notauri"], ["get", `${base}/x`, "--bogus"], ["get"], [
        "get",
        "coaps://127.0.0.1/x",
      ]]
    ) {
      const usage = await runCli(args);
      assert.equal(usage.code, 2, `${args.join(" ")}: ${usage.stderr}`);
      assert.match(usage.stderr, /^error: /);
    }
  } finally {
    server.close();
  }
});

Deno.test("the demo's /readings keeps what sensor nodes PUT or POST, as JSON", async () => {
  const server = new CoapServer(demoSite().site, { hostname: "127.0.0.1", port: 0 });
  const url = `coap://127.0.0.1:${server.address.port}/readings`;
  try {
    const put = await runCli([
      "put",
      url,
      "--payload",
      '{"n":1,"temperature":22.5}',
      "--content-format",
      "50",
    ]);
    assert.equal(put.code, 0, put.stdout);
    assert.equal((await runCli(["post", url, "--payload", '{"n":2}'])).code, 0);
    const notJson = await runCli(["put", url, "--payload", "22.5 degrees"]);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stdout, /^4\.00 Bad Request/);
    const kept = JSON.parse((await runCli(["get", url])).stdout.split("\n").slice(1).join("\n"));
    assert.deepEqual(kept.map((entry: { reading: unknown }) => entry.reading), [{ n: 1, temperature: 22.5 }, {
      n: 2,
    }]);
    assert.match(kept[0].from, /^127\.0\.0\.1:\d+$/);
  } finally {
    server.close();
  }
});

Deno.test("a silent peer sees the same CON 5 times with doubling gaps; the client exits 3", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const arrivals: { at: number; message: Message }[] = [];
  const listening = (async () => {
    for await (const [data] of socket) arrivals.push({ at: performance.now(), message: decode(data) });
  })().catch(() => {});
  try {
    const result = await runCli(["get", "--ack-timeout", "0.2", "--verbose", `coap://127.0.0.1:${port}/x`]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /no ACK or RST .* after 4 retransmissions/);
    assert.equal(arrivals.length, 5);
    const [first] = arrivals;
    for (const { message } of arrivals) {
      assert.equal(message.messageId, first.message.messageId);
      assert.deepEqual(message.token, first.message.token);
    }
    // Wall-clock gaps, asserted loosely: the exact schedule is tested on the virtual clock.
    const gaps = arrivals.slice(1).map((arrival, i) => arrival.at - arrivals[i].at);
    assert.ok(gaps[0] > 150 && gaps[0] < 450, `first gap ${gaps[0]} ms`);
    for (let i = 1; i < gaps.length; i++) {
      assert.ok(gaps[i] > 1.4 * gaps[i - 1], `gaps ${gaps.map(Math.round)}`);
    }
  } finally {
    socket.close();
    await listening;
  }
});
