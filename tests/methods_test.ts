/**
 * FETCH, PATCH and iPATCH (RFC 8132) from the command line: `fetch`, `patch` and `ipatch` against our server,
 * whose handlers answer 4.15 for a format they do not take and 4.09 for a patch that cannot apply, and
 * against libcoap's coap-server, which takes FETCH on /time only.
 */
import assert from "node:assert/strict";
import { CoapError, type CoapRequest, CoapServer, Code, ContentFormat, Site } from "../src/mod.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort, needs, runCommand, startProcess, waitForCoap } from "./_peers.ts";

/** A JSON document: FETCH a list of its keys, iPATCH a merge (idempotent), PATCH numbers to add (not). */
function documentSite(): { site: Site; document: () => Record<string, unknown> } {
  let document: Record<string, unknown> = { count: 1, name: "led" };
  const body = (request: CoapRequest): unknown => {
    // RFC 8132 §2.2, §3.2: a payload in a format the handler does not take is 4.15.
    if (request.contentFormat !== ContentFormat.Json) {
      throw new CoapError(Code.UnsupportedContentFormat, "expected application/json (50)");
    }
    return request.json();
  };
  const site = new Site().add("document", {
    fetch: (request) => {
      const keys = body(request) as string[];
      const selected = Object.fromEntries(keys.filter((key) => key in document).map((k) => [k, document[k]]));
      return { payload: JSON.stringify(selected), contentFormat: ContentFormat.Json };
    },
    ipatch: (request) => void (document = { ...document, ...body(request) as Record<string, unknown> }),
    patch: (request) => {
      const additions = body(request) as Record<string, number>;
      for (const key of Object.keys(additions)) {
        // RFC 8132 §3.4: a patch that cannot apply to the resource's state is 4.09 Conflict.
        if (typeof document[key] !== "number") throw new CoapError(Code.Conflict, `${key} is not a number`);
      }
      const next = { ...document };
      for (const [key, value] of Object.entries(additions)) next[key] = (next[key] as number) + value;
      document = next;
    },
  });
  return { site, document: () => document };
}

const json = ["--content-format", "50"];

Deno.test("fetch, ipatch and patch against our server, with 4.15 and 4.09", async () => {
  const { site, document } = documentSite();
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const uri = `coap://127.0.0.1:${server.address.port}/document`;
  try {
    const fetched = await runCli(["fetch", uri, "--payload", '["name"]', ...json]);
    assert.deepEqual([fetched.code, fetched.stdout], [0, '2.05 Content\n{"name":"led"}\n']);

    const merged = await runCli(["ipatch", uri, "--payload", '{"name":"lamp"}', ...json, "--non"]);
    assert.deepEqual([merged.code, merged.stdout], [0, "2.04 Changed\n"]);
    assert.equal(document().name, "lamp");

    const added = await runCli(["patch", uri, "--payload", '{"count":2}', ...json]);
    assert.deepEqual([added.code, added.stdout], [0, "2.04 Changed\n"]);
    assert.equal(document().count, 3);

    const conflict = await runCli(["patch", uri, "--payload", '{"name":1}', ...json]);
    assert.deepEqual([conflict.code, conflict.stdout], [1, "4.09 Conflict\nname is not a number\n"]);

    const unsupported = await runCli(["fetch", uri, "--payload", "name", "--content-format", "0"]);
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.stdout, /^4\.15 Unsupported Content-Format\n/);
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
      assert.match(fetched.stdout, /^2\.05 Content\n\w{3} \d\d \d\d:\d\d:\d\d\n$/);
      // libcoap 4.3.1's example server registers no PATCH or iPATCH handler on any resource.
      const patched = await runCli(["patch", `coap://127.0.0.1:${port}/example_data`, "--payload", "x"]);
      assert.equal(patched.code, 1);
      assert.match(patched.stdout, /^4\.05 Method Not Allowed\n/); // then libcoap's diagnostic payload
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
