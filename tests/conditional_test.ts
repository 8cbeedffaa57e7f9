// Conditional requests (RFC 7252 §5.10.8) and validation (§5.10.6.2): the server decides them from a
// resource's declared ETag before its handler runs; our client and CLI send the options; libcoap's
// coap-client creates with If-None-Match.
import assert from "node:assert/strict";
import { CoapClient, CoapServer, Code, OptionNumber, type RequestLogEntry, Site } from "../src/mod.ts";
import { runCli } from "./_cli.ts";
import { needs, runCommand } from "./_peers.ts";

/** A resource that holds one text document, created by PUT; its ETag counts the writes. */
function documentResource(writes: { count: number }) {
  let document: { text: string; etag: Uint8Array } | undefined;
  return {
    etag: () => document?.etag,
    get: () => {
      if (document === undefined) return { code: Code.NotFound };
      return { payload: document.text, etag: document.etag };
    },
    put: (request: { text(): string }) => {
      const created = document === undefined;
      writes.count++;
      document = { text: request.text(), etag: Uint8Array.of(writes.count) };
      return { code: created ? Code.Created : Code.Changed, etag: document.etag };
    },
  };
}

function serve(site: Site, log: RequestLogEntry[] = []) {
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0, onLog: (entry) => log.push(entry) });
  return { server, base: `coap://127.0.0.1:${server.address.port}` };
}

Deno.test(
  needs(
    "libcoap coap-client-notls -m put -e x -O 5 creates /create1 once: 2.01, then 4.12",
    ["coap-client-notls"],
    "libcoap3-bin",
  ),
  async () => {
    const writes = { count: 0 };
    const log: RequestLogEntry[] = [];
    const { server, base } = serve(new Site().add("create1", documentResource(writes)), log);
    try {
      const args = ["-m", "put", "-e", "x", "-O", "5", `${base}/create1`];
      const first = await runCommand("coap-client-notls", args);
      assert.equal(first.code, 0, first.stderr);
      const second = await runCommand("coap-client-notls", args);
      assert.match(second.stdout + second.stderr, /4\.12/);
      assert.deepEqual(log.map((entry) => entry.code), ["2.01", "4.12"]);
      assert.equal(writes.count, 1, "the handler did not run for the refused PUT");
    } finally {
      server.close();
    }
  },
);

Deno.test("If-Match: the current ETag writes; an old one, or a missing resource, gets 4.12", async () => {
  const writes = { count: 0 };
  const { server, base } = serve(new Site().add("doc", documentResource(writes)));
  const client = new CoapClient();
  try {
    const uri = `${base}/doc`;
    // An empty If-Match means "if it exists" (§5.10.8.1): nothing to update yet.
    const missing = await client.put(uri, "a", { ifMatch: [new Uint8Array(0)] });
    assert.deepEqual([missing.codeString, missing.text()], ["4.12", "If-Match: no such resource"]);
    assert.equal((await client.put(uri, "a", { ifNoneMatch: true })).codeString, "2.01");
    const etag = (await client.get(uri)).option(OptionNumber.ETag)!;
    const updated = await client.put(uri, "b", { ifMatch: [Uint8Array.of(0x99), etag] });
    assert.equal(updated.codeString, "2.04");
    const stale = await client.put(uri, "c", { ifMatch: [etag] });
    assert.deepEqual([stale.codeString, stale.text()], ["4.12", "If-Match: ETag does not match"]);
    assert.equal((await client.put(uri, "d", { ifMatch: [new Uint8Array(0)] })).codeString, "2.04");
    assert.equal((await client.get(uri)).text(), "d");
    assert.equal(writes.count, 3);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("a GET with the current ETag in an ETag option: 2.03 Valid, that ETag, no payload", async () => {
  const writes = { count: 0 };
  const { server, base } = serve(new Site().add("doc", documentResource(writes)));
  const client = new CoapClient();
  try {
    const uri = `${base}/doc`;
    await client.put(uri, "hello");
    const etag = (await client.get(uri)).option(OptionNumber.ETag)!;
    const valid = await client.get(uri, { etags: [Uint8Array.of(0x42), etag] });
    assert.equal(valid.codeString, "2.03");
    assert.deepEqual(valid.option(OptionNumber.ETag), etag);
    assert.equal(valid.payload.length, 0);
    const other = await client.get(uri, { etags: [Uint8Array.of(0x42)] });
    assert.deepEqual([other.codeString, other.text()], ["2.05", "hello"]);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("a resource's criticalOptions reach its handler; other critical options get 4.02", async () => {
  const EXPERIMENTAL = 65001; // odd: critical (RFC 7252 §5.4.6), from the experimental range (§12.2)
  const seen: (Uint8Array | undefined)[] = [];
  const site = new Site()
    .add("knows", {
      criticalOptions: [EXPERIMENTAL],
      get: (request) => void seen.push(request.option(EXPERIMENTAL)),
    })
    .add("plain", { get: () => "plain" });
  const { server, base } = serve(site);
  const client = new CoapClient();
  try {
    const options = [{ number: EXPERIMENTAL, value: Uint8Array.of(7) }];
    assert.equal((await client.get(`${base}/knows`, { options })).codeString, "2.05");
    assert.deepEqual(seen, [Uint8Array.of(7)]);
    const refused = await client.get(`${base}/plain`, { options });
    assert.deepEqual([refused.codeString, refused.text()], ["4.02", `option ${EXPERIMENTAL} not supported`]);
    // If-Match and If-None-Match are the server's own now: a resource without an ETag gets them unchecked.
    assert.equal((await client.get(`${base}/plain`, { ifNoneMatch: true })).codeString, "2.05");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("the CLI's --if-match, --if-none-match and --etag reach the server's request", async () => {
  const requests: { ifMatch: Uint8Array[]; ifNoneMatch: boolean; etags: Uint8Array[] }[] = [];
  const site = new Site().add("echo", {
    put: ({ ifMatch, ifNoneMatch, etags }) => void requests.push({ ifMatch, ifNoneMatch, etags }),
    get: ({ ifMatch, ifNoneMatch, etags }) => void requests.push({ ifMatch, ifNoneMatch, etags }),
  });
  const { server, base } = serve(site);
  try {
    const put = await runCli([
      "put",
      `${base}/echo`,
      "--if-match",
      "0a0b",
      "--if-match",
      "",
      "--if-none-match",
    ]);
    assert.equal(put.code, 0, put.stderr);
    const get = await runCli(["get", `${base}/echo`, "--etag", "01", "--etag", "0x0203"]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(requests, [
      { ifMatch: [Uint8Array.of(0x0a, 0x0b), new Uint8Array(0)], ifNoneMatch: true, etags: [] },
      { ifMatch: [], ifNoneMatch: false, etags: [Uint8Array.of(1), Uint8Array.of(2, 3)] },
    ]);
    const bad = await runCli(["get", `${base}/echo`, "--etag", ""]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--etag : expected 1-8 bytes in hex, got 0/);
  } finally {
    server.close();
  }
});
