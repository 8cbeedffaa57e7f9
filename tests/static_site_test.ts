/**
 * staticSite over UDP on 127.0.0.1: GET with Content-Format, ETag and validation, edits on disk, Block2,
 * /.well-known/core, the size and listing limits, PUT/DELETE with conditions, and every way out of the
 * directory refused.
 */
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  ContentFormat,
  encodeString,
  OptionNumber,
  type ServerOptions,
  staticSite,
  type StaticSiteOptions,
} from "../src/mod.ts";
import { DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_LISTED } from "../src/server/static_site.ts";

async function withSite(
  files: Record<string, string | Uint8Array>,
  run: (base: string, client: CoapClient, dir: string) => Promise<void>,
  options: StaticSiteOptions = {},
  serverOptions: ServerOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  for (const [name, content] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(path, typeof content === "string" ? new TextEncoder().encode(content) : content);
  }
  const server = new CoapServer(staticSite(dir, options), {
    hostname: "127.0.0.1",
    port: 0,
    ...serverOptions,
  });
  const client = new CoapClient();
  try {
    await run(`coap://127.0.0.1:${server.address.port}`, client, dir);
  } finally {
    client.close();
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A request whose Uri-Path options are exactly `segments`, as a hostile peer would send them. */
function rawPath(segments: string[]) {
  return {
    options: segments.map((segment) => ({ number: OptionNumber.UriPath, value: encodeString(segment) })),
  };
}

Deno.test("static site: Content-Format by extension, ETag from content, 2.03 Valid, edits show", async () => {
  const files = {
    "a.json": "{}",
    "b.txt": "text",
    "c.cbor": Uint8Array.of(0xa0),
    "d.xml": "<x/>",
    "e.link": "</x>",
    "f.wlnk": "</y>",
    "g.bin": Uint8Array.of(1, 2),
    "README": "no extension",
  };
  await withSite(files, async (base, client, dir) => {
    const formats: Record<string, number | undefined> = {};
    for (const name of Object.keys(files)) {
      formats[name] = (await client.get(`${base}/${name}`)).contentFormat;
    }
    assert.deepEqual(formats, {
      "a.json": 50,
      "b.txt": 0,
      "c.cbor": 60,
      "d.xml": 41,
      "e.link": 40,
      "f.wlnk": 40,
      "g.bin": 42,
      "README": 42,
    });
    const first = await client.get(`${base}/b.txt`);
    const etag = first.option(OptionNumber.ETag)!;
    assert.equal(etag.length, 8);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("text")));
    assert.deepEqual([...etag], [...digest.slice(0, 8)]);
    const valid = await client.get(`${base}/b.txt`, { etags: [etag] });
    assert.equal(valid.codeString, "2.03");
    assert.equal(valid.payload.length, 0);
    // Read at request time: the edit is served at once, under a new ETag, and the old one no longer validates.
    await Deno.writeTextFile(`${dir}/b.txt`, "edited");
    const edited = await client.get(`${base}/b.txt`, { etags: [etag] });
    assert.equal(edited.codeString, "2.05");
    assert.equal(edited.text(), "edited");
    assert.notDeepEqual(edited.option(OptionNumber.ETag), etag);
    // RFC 7252 §5.10.4: one representation, so another Accept is 4.06.
    const json = await client.get(`${base}/b.txt`, { accept: ContentFormat.Json });
    assert.equal(json.codeString, "4.06");
    assert.equal((await client.get(`${base}/missing.txt`)).codeString, "4.04");
  });
});

Deno.test("static site: a large file goes block-wise; beyond maxFileSize it gets 5.00", async () => {
  const large = new Uint8Array(5000).map((_, i) => i % 251);
  await withSite({ "large.bin": large, "huge.bin": new Uint8Array(6000) }, async (base, client) => {
    const response = await client.get(`${base}/large.bin`, { blockSize: 512 });
    assert.equal(response.codeString, "2.05");
    assert.deepEqual(response.payload, large);
    const huge = await client.get(`${base}/huge.bin`);
    assert.equal(huge.codeString, "5.00");
    assert.match(huge.text(), /larger than 5500 bytes/);
  }, { maxFileSize: 5500 });
  assert.equal(DEFAULT_MAX_FILE_SIZE, 1024 * 1024);
});

Deno.test("static site: /.well-known/core lists files, not hidden ones, up to maxListed", async () => {
  const files = { "b.txt": "b", "a/x.json": "[]", ".secret": "s", ".git/config": "c", "c d.txt": "cd" };
  await withSite(files, async (base, client) => {
    const links = (await client.get(`${base}/.well-known/core`)).text();
    assert.equal(links, "</a/x.json>;ct=50;sz=2,</b.txt>;ct=0;sz=1,</c%20d.txt>;ct=0;sz=2");
    assert.equal((await client.get(`${base}/c d.txt`)).text(), "cd");
  });
  await withSite(files, async (base, client) => {
    assert.equal(
      (await client.get(`${base}/.well-known/core`)).text(),
      "</a/x.json>;ct=50;sz=2,</b.txt>;ct=0;sz=1",
    );
  }, { maxListed: 2 });
  assert.equal(DEFAULT_MAX_LISTED, 1000);
});

Deno.test("static site: read-only refuses PUT and DELETE with 4.05", async () => {
  await withSite({ "a.txt": "a" }, async (base, client, dir) => {
    assert.equal((await client.put(`${base}/a.txt`, "b")).codeString, "4.05");
    assert.equal((await client.put(`${base}/new.txt`, "b")).codeString, "4.05");
    assert.equal((await client.delete(`${base}/a.txt`)).codeString, "4.05");
    assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "a");
  });
});

Deno.test("static site: writable PUT creates and replaces, If-Match and If-None-Match, DELETE", async () => {
  await withSite({ "a.txt": "a" }, async (base, client, dir) => {
    const created = await client.put(`${base}/sub/dir/n.json`, "[1]", { ifNoneMatch: true });
    assert.equal(created.codeString, "2.01");
    assert.equal(await Deno.readTextFile(`${dir}/sub/dir/n.json`), "[1]");
    // RFC 7252 §5.10.8.2: If-None-Match on an existing file fails.
    assert.equal(
      (await client.put(`${base}/sub/dir/n.json`, "[2]", { ifNoneMatch: true })).codeString,
      "4.12",
    );
    const etag = (await client.get(`${base}/a.txt`)).option(OptionNumber.ETag)!;
    // §5.10.8.1: If-Match with another ETag fails, with the current one succeeds; empty: "exists".
    assert.equal(
      (await client.put(`${base}/a.txt`, "x", { ifMatch: [Uint8Array.of(1)] })).codeString,
      "4.12",
    );
    assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "a");
    const replaced = await client.put(`${base}/a.txt`, "b", { ifMatch: [etag] });
    assert.equal(replaced.codeString, "2.04");
    assert.equal(await Deno.readTextFile(`${dir}/a.txt`), "b");
    assert.equal(
      (await client.put(`${base}/gone.txt`, "x", { ifMatch: [new Uint8Array()] })).codeString,
      "4.12",
    );
    assert.equal((await client.delete(`${base}/a.txt`, { ifMatch: [etag] })).codeString, "4.12");
    assert.equal((await client.delete(`${base}/a.txt`)).codeString, "2.02");
    assert.equal((await client.delete(`${base}/a.txt`)).codeString, "4.04");
    // A directory is not a file: GET finds nothing, PUT may not replace it.
    assert.equal((await client.get(`${base}/sub`)).codeString, "4.04");
    assert.equal((await client.put(`${base}/sub`, "x")).codeString, "4.03");
    // No temporary file is left behind.
    const names = [...Deno.readDirSync(`${dir}/sub/dir`)].map((entry) => entry.name);
    assert.deepEqual(names, ["n.json"]);
  }, { writable: true });
});

Deno.test("static site: a PUT body beyond the server's maxBodySize gets 4.13 and writes nothing", async () => {
  await withSite(
    {},
    async (base, client, dir) => {
      const response = await client.put(`${base}/big.bin`, new Uint8Array(4096), { blockSize: 1024 });
      assert.equal(response.codeString, "4.13");
      assert.deepEqual([...Deno.readDirSync(dir)], []);
      assert.equal(
        (await client.put(`${base}/ok.bin`, new Uint8Array(2048), { blockSize: 1024 })).codeString,
        "2.01",
      );
    },
    { writable: true },
    { maxBodySize: 2048 },
  );
});

Deno.test("static site: '..', hidden names, NUL, separators and escaping symlinks get 4.03", async () => {
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(`${outside}/secret.txt`, "secret");
  try {
    await withSite({ "a.txt": "a", ".hidden": "h" }, async (base, client, dir) => {
      await Deno.symlink(`${outside}/secret.txt`, `${dir}/link.txt`);
      await Deno.symlink(outside, `${dir}/out`);
      await Deno.symlink(`${dir}/a.txt`, `${dir}/inner.txt`);
      for (
        const segments of [[".."], ["..", "etc", "passwd"], [".hidden"], ["a\0b"], ["a/b"], ["a\\b"], [""]]
      ) {
        for (const method of ["get", "put", "delete"] as const) {
          const response = method === "put"
            ? await client.put(base, "x", rawPath(segments))
            : await client[method](base, rawPath(segments));
          assert.equal(response.codeString, "4.03", `${method} ${JSON.stringify(segments)}`);
        }
      }
      assert.equal((await client.get(`${base}/link.txt`)).codeString, "4.03");
      assert.equal((await client.get(`${base}/out/secret.txt`)).codeString, "4.03");
      assert.equal((await client.put(`${base}/out/new.txt`, "x")).codeString, "4.03");
      assert.equal((await client.put(`${base}/out/deeper/new.txt`, "x")).codeString, "4.03");
      assert.equal((await client.put(`${base}/link.txt`, "x")).codeString, "4.03");
      assert.equal((await client.delete(`${base}/link.txt`)).codeString, "4.03");
      assert.deepEqual([...Deno.readDirSync(outside)].map((entry) => entry.name), ["secret.txt"]);
      assert.equal(await Deno.readTextFile(`${outside}/secret.txt`), "secret");
      // A symlink that stays inside is served and listed; those that lead out are not listed.
      assert.equal((await client.get(`${base}/inner.txt`)).text(), "a");
      assert.equal(
        (await client.get(`${base}/.well-known/core`)).text(),
        "</a.txt>;ct=0;sz=1,</inner.txt>;ct=0;sz=1",
      );
    }, { writable: true });
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("staticSite throws for a directory that is missing or a file", async () => {
  assert.throws(() => staticSite("/nonexistent-static-dir"), Deno.errors.NotFound);
  const file = await Deno.makeTempFile();
  try {
    assert.throws(() => staticSite(file), /is not a directory/);
  } finally {
    await Deno.remove(file);
  }
});
