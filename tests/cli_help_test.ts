/** `--help` on every command, `--version`, unsupported schemes, and `observe` of a resource that is not observable. */
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";
import { CoapServer } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";

const COMMANDS = [
  "serve",
  "get",
  "put",
  "post",
  "delete",
  "fetch",
  "patch",
  "ipatch",
  "discover",
  "observe",
  "simulate",
  "decode",
  "encode",
  "overhead",
  "device",
];

Deno.test("every command answers --help with its usage and an example in 100 columns, exit 0; --version prints the version", async () => {
  for (const command of COMMANDS) {
    const help = await runCli([command, "--help"]);
    assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^usage: deno run -A main\\.ts (\\S*\\|)?${command}\\b`), command);
    assert.match(help.stdout, /\n {2}examples?:\n {4}\S/, `${command} --help shows an example`);
    assertFits(help.stdout, `${command} --help`);
  }
  const summary = await runCli(["--help"]);
  assert.equal(summary.code, 0);
  for (const command of ["serve", "get", "observe", "discover", "decode", "simulate", "overhead", "device"]) {
    assert.match(summary.stdout, new RegExp(`\\n {2}(\\S+\\|)?${command}\\b`), `--help lists ${command}`);
  }
  assertFits(summary.stdout, "--help");
  const { version } = JSON.parse(await Deno.readTextFile(new URL("../package.json", import.meta.url)));
  const printed = await runCli(["--version"]);
  assert.equal(printed.code, 0);
  assert.match(
    printed.stdout,
    new RegExp(`^deno-coap ${version.replaceAll(".", "\\.")} \\(Deno \\d+\\.\\d+\\.\\d+\\)\\n$`),
  );
});

/** Every line of `text` within 100 columns (characters, as a terminal counts them here). */
function assertFits(text: string, what: string): void {
  for (const line of text.split("\n")) {
    assert.ok([...line].length <= 100, `${what}: ${[...line].length} columns: ${line}`);
  }
}

Deno.test("coap+tcp://, coap+ws:// and http:// are refused by name: scheme not supported, exit 2", async () => {
  for (const scheme of ["coap+tcp", "coap+ws", "http"]) {
    const result = await runCli(["get", `${scheme}://127.0.0.1/x`]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      new RegExp(`^error: scheme "${scheme.replace("+", "\\+")}" is not supported`),
    );
  }
});

Deno.test("observe of a resource that is not observable prints the answer and exits 1 with the reason", async () => {
  const demo = demoSite();
  const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
  try {
    const result = await runCli(["observe", `coap://127.0.0.1:${server.address.port}/led`]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^not observable/);
    assert.equal(
      result.stderr,
      "error: the resource is not observable (its response has no Observe option)\n",
    );
  } finally {
    server.close();
    demo.stop();
  }
});
