/**
 * contrib/deno-coap.service: systemd accepts it (systemd-analyze verify, with ExecStart pointing at this
 * Deno, since verify wants the binary to exist), and its ExecStart's permissions are enough: the command
 * line it runs serves, writes and stops on SIGTERM with exit 0, over a symlinked directory as
 * StateDirectory with DynamicUser makes.
 */
import assert from "node:assert/strict";
import { CoapClient } from "../src/mod.ts";
import { freeUdpPort, hasCommand } from "./_peers.ts";

const UNIT = new URL("../contrib/deno-coap.service", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const INSTALLED_DENO = "/usr/local/bin/deno";
const INSTALLED_MAIN = "/opt/deno-coap/main.ts";
const STATE = "/var/lib/deno-coap";

/** The unit's ExecStart, split at spaces (it quotes nothing). */
async function execStart(): Promise<string[]> {
  const line = (await Deno.readTextFile(UNIT)).split("\n").find((line) => line.startsWith("ExecStart="));
  assert.ok(line, "the unit has an ExecStart");
  return line.slice("ExecStart=".length).split(" ");
}

const hasAnalyze = hasCommand("systemd-analyze");
Deno.test({
  name: hasAnalyze
    ? "systemd-analyze verify accepts contrib/deno-coap.service"
    : "systemd-analyze verify accepts contrib/deno-coap.service (skipped: systemd-analyze not installed; apt package systemd)",
  ignore: !hasAnalyze,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const unit = (await Deno.readTextFile(UNIT)).replaceAll(INSTALLED_DENO, Deno.execPath());
      await Deno.writeTextFile(`${dir}/deno-coap.service`, unit);
      const output = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/deno-coap.service`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
      assert.equal(output.code, 0, said);
      // verify exits 0 on some warnings too: none may name the unit.
      assert.doesNotMatch(said, /deno-coap\.service/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the unit's ExecStart, permissions as written, serves and writes a symlinked state dir, exits 0 on SIGTERM", async () => {
  const [deno, ...args] = await execStart();
  assert.equal(deno, INSTALLED_DENO);
  assert.ok(args.includes("--allow-write=" + STATE) && args.includes("--writable"));
  assert.ok(!args.includes("-A") && !args.some((arg) => arg.startsWith("--allow-all")));
  const base = await Deno.makeTempDir();
  const real = `${base}/private`;
  const link = `${base}/deno-coap`;
  await Deno.mkdir(real);
  await Deno.symlink(real, link);
  await Deno.writeTextFile(`${real}/hello.txt`, "hello");
  const port = freeUdpPort();
  const local = args.map((arg) =>
    arg === INSTALLED_MAIN ? MAIN : arg === "5683" ? String(port) : arg.replaceAll(STATE, link)
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [...local, "--host", "127.0.0.1"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const client = new CoapClient();
  try {
    const uri = `coap://127.0.0.1:${port}`;
    let hello;
    for (let attempt = 0; attempt < 50 && hello === undefined; attempt++) {
      const started = performance.now();
      hello = await client.get(`${uri}/hello.txt`, { timeout: 200 }).catch(() => undefined);
      // A closed port fails at once (ICMP port unreachable): each attempt still takes 200 ms.
      if (hello === undefined) await new Promise((r) => setTimeout(r, 200 - (performance.now() - started)));
    }
    assert.equal(hello?.text(), "hello");
    assert.equal((await client.put(`${uri}/notes/a.json`, "[]")).codeString, "2.01");
    assert.equal(await Deno.readTextFile(`${real}/notes/a.json`), "[]");
  } finally {
    client.close();
    child.kill("SIGTERM");
  }
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  await Deno.remove(base, { recursive: true });
  assert.equal(output.code, 0, stderr);
  assert.equal(output.signal, null);
  assert.equal(stderr, "");
  // --log-format json, as the unit asks: every stdout line parses.
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.filter((line) => line.msg === "request").map((line) => line.code).slice(-2), [
    "2.05",
    "2.01",
  ]);
});
