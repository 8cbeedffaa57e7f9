/**
 * FETCH, PATCH and iPATCH (RFC 8132) from the command line: `fetch`, `patch` and `ipatch` against our server,
 * whose handlers answer 4.15 for a format they do not take and 4.09 for a patch that cannot apply, and
 * against libcoap's coap-server, which takes FETCH on /time only.
 */
import assert from "node:assert/strict";
import { CoapServer, Site } from "../src/mod.ts";
import { jsonDocument } from "../src/demo/json_document.ts";
import { plugtestSite } from "../src/demo/plugtest_site.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort, needs, runCommand, startProcess, waitForCoap } from "./_peers.ts";

/** A site with one JSON document at /document (src/demo/json_document.ts). */
function documentSite(): { site: Site; document: () => Record<string, unknown> } {
  const resource = jsonDocument({ count: 1, name: "led" });
  return { site: new Site().add("document", resource), document: resource.document };
}

const json = ["--content-format", "50"];

Deno.test("fetch, ipatch and patch against our server, with 4.15 and 4.09", async () => {
  const { site, document } = documentSite();
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const uri = `coap://127.0.0.1:${server.address.port}/document`;
  try {
    const fetched = await runCli(["fetch", uri, "--payload", '["name"]', ...json]);
    // Piped: the representation alone on stdout, the code line on stderr.
    assert.deepEqual([fetched.code, fetched.stdout], [0, '{"name":"led"}']);
    assert.match(fetched.stderr, /^2\.05 Content\b/);

    const merged = await runCli(["ipatch", uri, "--payload", '{"name":"lamp"}', ...json, "--non"]);
    assert.deepEqual([merged.code, merged.stdout, merged.stderr], [0, "", "2.04 Changed\n"]);
    assert.equal(document().name, "lamp");

    const added = await runCli(["patch", uri, "--payload", '{"count":2}', ...json]);
    assert.deepEqual([added.code, added.stdout, added.stderr], [0, "", "2.04 Changed\n"]);
    assert.equal(document().count, 3);

    const conflict = await runCli(["patch", uri, "--payload", '{"name":1}', ...json]);
    assert.deepEqual([conflict.code, conflict.stdout, conflict.stderr], [
      1,
      "",
      "4.09 Conflict\nname is not a number\n",
    ]);

    const unsupported = await runCli(["fetch", uri, "--payload", "name", "--content-format", "0"]);
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.stderr, /^4\.15 Unsupported Content-Format\n/);
  } finally {
    server.close();
  }
});

Deno.test(
  needs(
    "fetch against libcoap's coap-server (/time), and its 4.05 to PATCH",
    ["coap-server-notls"],
    "libcoap3-bin",
  ),
  async () => {
    const port = freeUdpPort();
    const peer = startProcess("coap-server-notls", ["-A", "127.0.0.1", "-p", String(port)]);
    try {
      await waitForCoap(port);
      const fetched = await runCli(["fetch", `coap://127.0.0.1:${port}/time`]);
      assert.equal(fetched.code, 0);
      assert.match(fetched.stdout, /^\w{3} \d\d \d\d:\d\d:\d\d$/);
      assert.match(fetched.stderr, /^2\.05 Content\b/);
      // libcoap 4.3.1's example server registers no PATCH or iPATCH handler on any resource.
      const patched = await runCli(["patch", `coap://127.0.0.1:${port}/example_data`, "--payload", "x"]);
      assert.equal(patched.code, 1);
      assert.match(patched.stderr, /^4\.05 Method Not Allowed\n/); // then libcoap's diagnostic payload
    } finally {
      await peer.stop();
    }
  },
);

Deno.test(
  needs(
    "libcoap's coap-client sends FETCH, PATCH and iPATCH to our server",
    ["coap-client-notls"],
    "libcoap3-bin",
  ),
  async () => {
    const { site, document } = documentSite();
    const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
    const uri = `coap://127.0.0.1:${server.address.port}/document`;
    try {
      const fetched = await runCommand("coap-client-notls", [
        "-m",
        "fetch",
        "-t",
        "50",
        "-e",
        '["count"]',
        uri,
      ]);
      assert.equal(fetched.stdout.trim(), '{"count":1}');
      await runCommand("coap-client-notls", ["-m", "ipatch", "-t", "50", "-e", '{"count":5}', uri]);
      await runCommand("coap-client-notls", ["-m", "patch", "-t", "50", "-e", '{"count":1}', uri]);
      assert.equal(document().count, 6);
    } finally {
      server.close();
    }
  },
);

Deno.test("fetch, patch and ipatch against the plugtest server's /document", async () => {
  const plugtest = plugtestSite();
  const server = new CoapServer(plugtest.site, { hostname: "127.0.0.1", port: 0 });
  const uri = `coap://127.0.0.1:${server.address.port}/document`;
  try {
    assert.equal(
      (await runCli(["patch", uri, "--payload", '{"count":4}', ...json])).stderr,
      "2.04 Changed\n",
    );
    assert.equal(
      (await runCli(["ipatch", uri, "--payload", '{"name":"x"}', ...json])).stderr,
      "2.04 Changed\n",
    );
    const fetched = await runCli(["fetch", uri, "--payload", '["count","name"]', ...json]);
    assert.deepEqual([fetched.code, fetched.stdout], [0, '{"count":5,"name":"x"}']);
  } finally {
    server.close();
    plugtest.stop();
  }
});
