/** Payloads in and out of the request commands: `-o FILE`, `--payload @FILE`, `--payload -`, values starting with "-", repeated flags. */
import assert from "node:assert/strict";
import { cliCommand, finished, runCli } from "./_cli.ts";
import { CoapServer, Site } from "../src/mod.ts";

const BINARY = crypto.getRandomValues(new Uint8Array(3000));

async function sha256(bytes: Uint8Array): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

Deno.test("-o FILE and a piped stdout get a binary resource's exact bytes; --payload @FILE and --payload - send them", async () => {
  const received: Uint8Array[] = [];
  const site = new Site()
    .add("blob", { get: () => ({ payload: BINARY, contentFormat: 42 }) })
    .add("sink", { put: (request) => void received.push(request.payload) });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const base = `coap://127.0.0.1:${server.address.port}`;
  const dir = await Deno.makeTempDir();
  try {
    const got = await runCli(["get", `${base}/blob`, "-o", `${dir}/out.bin`]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, "");
    assert.equal(got.stderr, "2.05 Content (application/octet-stream)\n");
    assert.equal(await sha256(await Deno.readFile(`${dir}/out.bin`)), await sha256(BINARY));
    // `get URI > out.bin`: stdout, not a terminal, carries the bytes alone (three Block2 blocks here).
    const piped = await runCli(["get", `${base}/blob`]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(await sha256(piped.stdoutBytes), await sha256(BINARY));
    await Deno.writeFile(`${dir}/in.bin`, BINARY);
    const fromFile = await runCli(["put", `${base}/sink`, "--payload", `@${dir}/in.bin`]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const { command, args } = cliCommand(["put", `${base}/sink`, "--payload", "-"]);
    const child = new Deno.Command(command, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(BINARY);
    await writer.close();
    const fromStdin = finished(await child.output());
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    const negative = await runCli(["put", `${base}/sink`, "--payload", "-0.5"]);
    assert.equal(negative.code, 0, negative.stderr);
    assert.deepEqual(await Promise.all(received.map(sha256)), [
      await sha256(BINARY),
      await sha256(BINARY),
      await sha256(new TextEncoder().encode("-0.5")),
    ]);
    const missing = await runCli(["put", `${base}/sink`, "--payload", `@${dir}/nonexistent`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: --payload @.*nonexistent: /);
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a flag that takes one value is refused when repeated; repeatable ones accumulate", async () => {
  const twice = await runCli(["get", "coap://127.0.0.1:1/x", "--timeout", "1", "--timeout", "2"]);
  assert.equal(twice.code, 2);
  assert.equal(twice.stderr, "error: --timeout given twice: it takes one value\n");
  const path = await runCli([
    "encode",
    "--type",
    "CON",
    "--code",
    "GET",
    "--mid",
    "1",
    "--path",
    "sensors",
    "--path",
    "t1",
  ]);
  assert.equal(path.code, 0, path.stderr);
  assert.equal(path.stdout.trim(), "40010001b773656e736f7273027431"); // Uri-Path "sensors", then "t1"
});
