// The firmware build (issue 5): the wasm2c translation of the very core.wasm
// Deno loads, linked for RV32IMC within the ESP32-C3 budget, which the link
// enforces. Booting it and talking to it is device_test.ts.
import assert from "node:assert/strict";
import { DEVICE_PACKAGES } from "../src/device/device.ts";
import { needs, runCommand } from "./_peers.ts";

const root = new URL("../", import.meta.url).pathname;
const TOOLS = ["wasm2c", "riscv64-unknown-elf-gcc"];
const build = (...args: string[]) =>
  runCommand(Deno.execPath(), ["run", "-A", `${root}firmware/build.ts`, ...args], 120_000);

Deno.test({
  ...needs(
    "firmware: the build fits 400 KiB of RAM and fails when the budget is smaller",
    TOOLS,
    DEVICE_PACKAGES,
  ),
  async fn() {
    // The failing build first: a failed link leaves no image, and the good build after it replaces it.
    const tooSmall = await build("--ram-budget-kib", "100");
    assert.notEqual(tooSmall.code, 0);
    assert.match(tooSmall.stderr, /firmware exceeds the RAM budget/);

    const fits = await build();
    assert.equal(fits.code, 0, fits.stderr);
    const ram = /RAM in use ([\d.]+) KiB of 400\.0 KiB/.exec(fits.stdout);
    assert.ok(ram && Number(ram[1]) <= 400, fits.stdout);
    const flash = /flash in use ([\d.]+) KiB of 4096\.0 KiB/.exec(fits.stdout);
    assert.ok(flash && Number(flash[1]) <= 4096, fits.stdout);

    const wasm = await Deno.readFile(`${root}src/core/core.wasm`);
    const sha256 = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", wasm)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.match(fits.stdout, new RegExp(`core.wasm sha256 ${sha256}`));
    const elf = await Deno.readFile(`${root}build/firmware/firmware.elf`);
    assert.ok(new TextDecoder().decode(elf).includes(sha256), "the image embeds the SHA-256 it reports");
  },
});

Deno.test("firmware: a RAM budget beyond the 400 KiB QEMU gives is a usage error", async () => {
  const result = await build("--ram-budget-kib", "512");
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--ram-budget-kib must be an integer from 1 to 400/);
});
