// The committed core.wasm is what `deno task build` makes from core-as/ (so deno run needs no build step).
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

Deno.test("core.wasm rebuilds byte-identical from core-as/ and imports nothing", async () => {
  const rebuilt = await Deno.makeTempFile({ suffix: ".wasm" });
  const asc = await new Deno.Command(`${root}node_modules/.bin/asc`, {
    args: ["core-as/index.ts", "--outFile", rebuilt, ...buildFlags()],
    cwd: root,
    stderr: "piped",
  }).output();
  assert.equal(asc.code, 0, new TextDecoder().decode(asc.stderr));
  const committed = await Deno.readFile(`${root}src/core/core.wasm`);
  const fresh = await Deno.readFile(rebuilt);
  await Deno.remove(rebuilt);
  assert.ok(
    committed.length === fresh.length && committed.every((byte, i) => byte === fresh[i]),
    "src/core/core.wasm is stale: run `npx deno task build` and commit it",
  );
  assert.deepEqual(WebAssembly.Module.imports(new WebAssembly.Module(committed)), []);
});

/** The asc flags of the build task in deno.json, so this test checks the very build users run. */
function buildFlags(): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks.build;
  const words = task.split(/\s+/);
  const out = words.indexOf("--outFile");
  return words.slice(out + 2);
}
