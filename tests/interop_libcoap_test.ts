// Interop with libcoap, the reference peer: its coap-client-notls against our
// demo server, and our client and CLI against its coap-server-notls.
import assert from "node:assert/strict";
import { CoapClient, CoapServer } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort, needs, runCommand, startProcess, waitForCoap } from "./_peers.ts";

const LIBCOAP = "libcoap3-bin";

/** Runs `test` against a fresh coap-server-notls on 127.0.0.1, with a client of ours; cleans both up. */
async function withLibcoapServer(test: (port: number, client: CoapClient) => Promise<void>): Promise<void> {
  const port = freeUdpPort();
  const peer = startProcess("coap-server-notls", ["-A", "127.0.0.1", "-p", String(port)]);
  const client = new CoapClient();
  try {
    await waitForCoap(port);
    await test(port, client);
  } finally {
    client.close();
    await peer.stop();
  }
}

/** coap-client-notls with a bounded wait. */
function coapClient(...args: string[]) {
  return runCommand("coap-client-notls", ["-B", "5", ...args]);
}

Deno.test({
  ...needs("libcoap coap-client-notls against our demo server: GET, PUT, POST, DELETE, 4.04, discovery", [
    "coap-client-notls",
  ], LIBCOAP),
  async fn() {
    const server = new CoapServer(demoSite().site, { hostname: "127.0.0.1", port: 0 });
    const base = `coap://127.0.0.1:${server.address.port}`;
    try {
      const reading = await coapClient("-m", "get", `${base}/temperature`);
      assert.equal(reading.code, 0, reading.stderr);
      const celsius = Number(reading.stdout.trim());
      assert.ok(celsius > 15 && celsius < 30, `reading "${reading.stdout}"`);

      const put = await coapClient("-m", "put", "-e", "23.5", `${base}/temperature`);
      assert.equal(put.code, 0, put.stderr);
      assert.doesNotMatch(put.stdout + put.stderr, /4\.\d\d|5\.\d\d/);
      const offset = Number((await coapClient("-m", "get", `${base}/temperature`)).stdout.trim());
      assert.ok(offset > 15 + 23.5 && offset < 30 + 23.5, `reading after PUT "${offset}"`);

      assert.equal((await coapClient("-m", "post", `${base}/led`)).stdout.trim(), "on");
      assert.equal((await coapClient("-m", "post", `${base}/led`)).stdout.trim(), "off");

      const created = await coapClient("-m", "put", "-t", "50", "-e", '{"interval":2}', `${base}/config`);
      assert.equal(created.code, 0, created.stderr);
      assert.equal((await coapClient("-m", "get", `${base}/config`)).stdout.trim(), '{"interval":2}');
      const deleted = await coapClient("-m", "delete", `${base}/config`);
      assert.equal(deleted.code, 0, deleted.stderr);
      const gone = await coapClient("-m", "get", `${base}/config`);
      assert.match(gone.stdout + gone.stderr, /4\.04/);

      const missing = await coapClient("-m", "get", `${base}/no/such/thing`);
      assert.match(missing.stdout + missing.stderr, /4\.04/);

      const links = (await coapClient("-m", "get", `${base}/.well-known/core`)).stdout;
      for (const path of ["</temperature>", "</led>", "</config>"]) assert.ok(links.includes(path), links);
    } finally {
      server.close();
    }
  },
});

Deno.test({
  ...needs("our client and CLI against libcoap coap-server-notls", ["coap-server-notls"], LIBCOAP),
  async fn() {
    await withLibcoapServer(async (port, client) => {
      const banner = await client.get(`coap://127.0.0.1:${port}/`);
      assert.equal(banner.codeString, "2.05");
      assert.match(banner.text(), /libcoap/);
      const time = await client.get(`coap://127.0.0.1:${port}/time`);
      assert.equal(time.codeString, "2.05");
      assert.ok(time.text().length > 0);
      assert.equal((await client.get(`coap://127.0.0.1:${port}/nothing`)).codeString, "4.04");
      // libcoap's /async answers with an empty ACK and, a second later, a separate CON response.
      const separate = await client.get(`coap://127.0.0.1:${port}/async?1`);
      assert.deepEqual([separate.codeString, separate.text()], ["2.05", "done"]);

      const cli = await runCli(["get", `coap://127.0.0.1:${port}/`]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^This is a test server made with libcoap/);
      assert.match(cli.stderr, /^2\.05 Content\b/);
    });
  },
});

Deno.test({
  ...needs("libcoap coap-client-notls -s observes our /temperature and receives the notifications", [
    "coap-client-notls",
  ], LIBCOAP),
  async fn() {
    const demo = demoSite({ driftEvery: 300 });
    const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
    try {
      const observed = await coapClient(
        "-s",
        "2",
        "-m",
        "get",
        `coap://127.0.0.1:${server.address.port}/temperature`,
      );
      assert.equal(observed.code, 0, observed.stderr);
      // libcoap prints each payload as it arrives, without separators: one reading per response.
      const readings = observed.stdout.match(/\d+\.\d/g) ?? [];
      assert.ok(readings.length >= 5, `registration response and notifications: ${observed.stdout}`);
    } finally {
      demo.stop();
      server.close();
    }
  },
});

Deno.test({
  ...needs("our client and CLI observe libcoap's /time", ["coap-server-notls"], LIBCOAP),
  async fn() {
    await withLibcoapServer(async (port, client) => {
      const observation = await client.observe(`coap://127.0.0.1:${port}/time`);
      assert.ok(observation.active, "libcoap's /time is observable");
      const times: string[] = [];
      for await (const notification of observation) {
        times.push(notification.text());
        if (times.length === 2) break;
      }
      assert.equal(new Set(times).size, 2, `notifications carry new times: ${times}`);
      const cli = await runCli(["observe", "--count", "3", `coap://127.0.0.1:${port}/time`]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.equal(cli.stdout.match(/^notification /gm)?.length, 3, cli.stdout);
    });
  },
});

Deno.test({
  ...needs("libcoap coap-client-notls -b 64: our /large whole, a block-wise PUT to /upload", [
    "coap-client-notls",
  ], LIBCOAP),
  async fn() {
    const demo = demoSite();
    const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
    const client = new CoapClient();
    const file = await Deno.makeTempFile();
    try {
      const base = `coap://127.0.0.1:${server.address.port}`;
      const large = await coapClient("-b", "64", "-m", "get", `${base}/large`);
      assert.equal(large.code, 0, large.stderr);
      // libcoap ends what it prints with a newline of its own.
      assert.equal(large.stdout.trimEnd(), (await client.get(`${base}/large`)).text().trimEnd());
      const body = new Uint8Array(50_000).map((_, i) => (i * 7) & 0xff);
      await Deno.writeFile(file, body);
      const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
      const hex = Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
      const uploaded = await coapClient("-b", "64", "-m", "put", "-f", file, `${base}/upload`);
      assert.equal(uploaded.code, 0, uploaded.stderr);
      assert.equal(uploaded.stdout.trim(), `50000 bytes, sha256 ${hex}`);
    } finally {
      await Deno.remove(file);
      client.close();
      server.close();
      demo.stop();
    }
  },
});

Deno.test({
  ...needs(
    "our client's Block1 PUT and Block2 GET against libcoap's /example_data",
    ["coap-server-notls"],
    LIBCOAP,
  ),
  async fn() {
    await withLibcoapServer(async (port, client) => {
      const body = "block-wise interop ".repeat(400);
      const put = await client.put(`coap://127.0.0.1:${port}/example_data`, body, { blockSize: 256 });
      assert.ok(put.isSuccess, put.codeString);
      const got = await client.get(`coap://127.0.0.1:${port}/example_data`, { blockSize: 128 });
      assert.equal(got.text(), body);
    });
  },
});
