// Interop with node-coap (npm "coap"), run under Node as its users run it: its
// client against our demo server, and our client against its server.
import assert from "node:assert/strict";
import { CoapClient, CoapServer } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { freeUdpPort, needs, runCommand } from "./_peers.ts";

const peers = new URL("./peers/", import.meta.url).pathname;

async function nodeCoap(method: string, url: string, payload?: string) {
  const result = await runCommand("node", [
    `${peers}node_coap_client.mjs`,
    method,
    url,
    ...(payload === undefined ? [] : [payload]),
  ]);
  return JSON.parse(result.stdout) as { code?: string; payload?: string; error?: string };
}

Deno.test({
  ...needs("node-coap client against our demo server: GET, PUT, POST, DELETE, 4.04", ["node"], "nodejs"),
  async fn() {
    const server = new CoapServer(demoSite().site, { hostname: "127.0.0.1", port: 0 });
    const base = `coap://127.0.0.1:${server.address.port}`;
    try {
      const reading = await nodeCoap("GET", `${base}/temperature`);
      assert.equal(reading.code, "2.05");
      assert.match(reading.payload ?? "", /^\d+\.\d$/);
      assert.deepEqual(await nodeCoap("PUT", `${base}/led`, "on"), { code: "2.04", payload: "" });
      assert.deepEqual(await nodeCoap("GET", `${base}/led`), { code: "2.05", payload: "on" });
      assert.deepEqual(await nodeCoap("POST", `${base}/led`), { code: "2.04", payload: "off" });
      assert.equal((await nodeCoap("PUT", `${base}/config`, '{"a":1}')).code, "2.01");
      assert.equal((await nodeCoap("DELETE", `${base}/config`)).code, "2.02");
      assert.equal((await nodeCoap("GET", `${base}/missing`)).code, "4.04");
    } finally {
      server.close();
    }
  },
});

Deno.test({
  ...needs("node-coap observes our /temperature", ["node"], "nodejs"),
  async fn() {
    const demo = demoSite({ driftEvery: 100 });
    const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
    try {
      const result = await runCommand("node", [
        `${peers}node_coap_observe.mjs`,
        `coap://127.0.0.1:${server.address.port}/temperature`,
        "5",
      ]);
      const payloads = JSON.parse(result.stdout);
      assert.equal(payloads.length, 5, result.stdout);
      for (const payload of payloads) assert.match(payload, /^\d+\.\d$/);
    } finally {
      demo.stop();
      server.close();
    }
  },
});

Deno.test({
  ...needs("our client against a node-coap server: GET, PUT echo, 4.04, observe", ["node"], "nodejs"),
  async fn() {
    const port = freeUdpPort();
    const peer = new Deno.Command("node", {
      args: [`${peers}node_coap_server.mjs`, String(port)],
      stdout: "piped",
    }).spawn();
    const client = new CoapClient();
    try {
      const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assert.match((await reader.read()).value ?? "", /listening/);
      reader.releaseLock();
      const base = `coap://127.0.0.1:${port}`;
      const reading = await client.get(`${base}/temperature`);
      assert.deepEqual([reading.codeString, reading.text(), reading.contentFormat], ["2.05", "21.5", 0]);
      const echoed = await client.put(`${base}/echo`, "ping ✓");
      assert.deepEqual([echoed.codeString, echoed.text()], ["2.04", "ping ✓"]);
      assert.equal((await client.get(`${base}/nothing`)).codeString, "4.04");
      const observation = await client.observe(`${base}/counter`);
      assert.ok(observation.active);
      const counts: string[] = [observation.response.text()];
      for await (const notification of observation) {
        counts.push(notification.text());
        if (counts.length === 4) break;
      }
      assert.deepEqual(counts, ["0", "1", "2", "3"]);
    } finally {
      client.close();
      peer.kill("SIGTERM");
      await peer.status;
      await peer.stdout.cancel().catch(() => {});
    }
  },
});
