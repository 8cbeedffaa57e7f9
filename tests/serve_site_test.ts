/**
 * `serve --site FILE.ts` and `serve --static DIR [--writable]` as a user runs them: a module written here
 * that imports the library by file URL, relative to the working directory; the usage errors (exit 2).
 */
import assert from "node:assert/strict";
import { CoapClient } from "../src/mod.ts";
import { runCli } from "./_cli.ts";
import { withServe } from "./_serve.ts";

const MOD = new URL("../src/mod.ts", import.meta.url).href;

async function withModule(source: string, run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/site.ts`, source);
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function get(uri: string): Promise<string> {
  const client = new CoapClient();
  try {
    const response = await client.get(uri);
    return `${response.codeString} ${response.text()}`;
  } finally {
    client.close();
  }
}

Deno.test("serve --site: a default-exported Site, by a path relative to the working directory", async () => {
  const source = `import { Site } from "${MOD}";
export default new Site().add("hello", { get: () => "from the module" });
`;
  await withModule(source, async (dir) => {
    const run = await withServe(["--site", "site.ts"], async (base) => {
      assert.equal(await get(`${base}/hello`), "2.05 from the module");
    }, { cwd: dir });
    assert.match(run.stdout, /listening on coap:\/\/127\.0\.0\.1:\d+ {2}\(\/hello, \/\.well-known\/core\)/);
    assert.equal(run.code, 0, run.stderr);
  });
});

Deno.test("serve --site: an export named site that is an async function returning a Site", async () => {
  const source = `import { Site } from "${MOD}";
export async function site() {
  await Promise.resolve();
  return new Site().add("made", { get: () => "by a function" });
}
`;
  await withModule(source, async (dir) => {
    const run = await withServe(["--site", `${dir}/site.ts`], async (base) => {
      assert.equal(await get(`${base}/made`), "2.05 by a function");
    });
    assert.equal(run.code, 0, run.stderr);
  });
});

Deno.test("serve --site: a missing file, a module without a Site, one that fails: exit 2 with the reason", async () => {
  const missing = await runCli(["serve", "--port", "0", "--site", "/nonexistent/site.ts"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: --site \/nonexistent\/site\.ts: No such file/m);
  await withModule(`export const other = 1;\n`, async (dir) => {
    const none = await runCli(["serve", "--port", "0", "--site", `${dir}/site.ts`]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exports no Site/);
  });
  await withModule(`export default 42;\n`, async (dir) => {
    const number = await runCli(["serve", "--port", "0", "--site", `${dir}/site.ts`]);
    assert.equal(number.code, 2);
    assert.match(number.stderr, /exports no Site/);
  });
  await withModule(`throw new Error("broken module");\n`, async (dir) => {
    const broken = await runCli(["serve", "--port", "0", "--site", `${dir}/site.ts`]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /cannot import: .*broken module/);
  });
});

Deno.test("serve: --site, --static and --plugtest exclude each other; --writable needs --static", async () => {
  for (
    const [args, message] of [
      [["--site", "a.ts", "--static", "."], /give one of --site, --static, not both/],
      [["--plugtest", "--static", "."], /give one of --plugtest, --static/],
      [["--writable"], /--writable needs --static DIR/],
      [["--static", "/nonexistent-static-dir"], /--static \/nonexistent-static-dir: No such file/],
    ] as const
  ) {
    const result = await runCli(["serve", "--port", "0", ...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, message);
  }
});

Deno.test("serve --static DIR --writable: GET, PUT and the file on disk", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/state.json`, '{"on":false}');
  try {
    const run = await withServe(["--static", dir, "--writable"], async (base) => {
      const client = new CoapClient();
      try {
        assert.equal((await client.get(`${base}/state.json`)).text(), '{"on":false}');
        assert.equal((await client.put(`${base}/state.json`, '{"on":true}')).codeString, "2.04");
        assert.equal((await client.get(`${base}/.well-known/core`)).text(), "</state.json>;ct=50;sz=11");
      } finally {
        client.close();
      }
    });
    assert.equal(await Deno.readTextFile(`${dir}/state.json`), '{"on":true}');
    assert.match(run.stdout, /\(files under .*, read-write, \/\.well-known\/core\)/);
    assert.equal(run.code, 0, run.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
