// The README's examples run as written: the lab's server and client, side by side.
import assert from "node:assert/strict";
import { freeUdpPort } from "./_peers.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("examples/temperature_server.ts answers examples/temperature_client.ts", async () => {
  // A free port, not 5683: the suite must pass while a server (the Quick start's own) holds that.
  const port = String(freeUdpPort());
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "examples/temperature_server.ts", port],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    if (value?.includes("EADDRINUSE") || !value?.includes("started")) {
      assert.fail(`server did not start: ${value}`);
    }
    const client = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "examples/temperature_client.ts", port],
      cwd: root,
    }).output();
    assert.equal(new TextDecoder().decode(client.stdout).trim(), "2.05 Content 22.5");
    reader.releaseLock();
  } finally {
    server.kill("SIGTERM");
    await server.status;
    await server.stderr.cancel();
    await server.stdout.cancel().catch(() => {});
  }
});
