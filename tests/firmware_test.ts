// The emulated device target (issue 5, first part): the firmware builds from
// the wasm2c translation of the very core.wasm Deno loads, boots under QEMU's
// RV32IMC virt machine in 400 KiB of RAM, and its core decodes, re-encodes and
// schedules exactly as the Deno side does.
import assert from "node:assert/strict";
import { decode } from "../src/mod.ts";
import { ExchangeCore } from "../src/core/exchange_core.ts";
import { bytes } from "./_hex.ts";
import { needs, runCommand } from "./_peers.ts";

const root = new URL("../", import.meta.url).pathname;
const TOOLS = ["wasm2c", "riscv64-unknown-elf-gcc", "qemu-system-riscv32"];
const PACKAGES = "wabt, gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf, qemu-system-misc";
const QEMU = [
  "-M",
  "virt",
  "-cpu",
  "rv32,a=false,f=false,d=false,h=false,s=false,mmu=false",
  "-m",
  "400K",
  "-bios",
  "none",
];

Deno.test({
  ...needs("the firmware boots under QEMU and its core matches the Deno side", TOOLS, PACKAGES),
  async fn() {
    const build = await runCommand(Deno.execPath(), ["run", "-A", `${root}firmware/build.ts`], 120_000);
    assert.equal(build.code, 0, build.stderr);
    assert.match(build.stdout, /RAM in use [\d.]+ KiB of 400\.0 KiB/);
    const boot = await runCommand(
      "qemu-system-riscv32",
      [...QEMU, "-kernel", `${root}build/firmware/firmware.elf`, "-nographic", "-monitor", "none"],
      20_000,
    );
    const lines = boot.stdout.split(/\r?\n/);

    const wasm = await Deno.readFile(`${root}src/core/core.wasm`);
    const sha256 = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", wasm)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.ok(lines.includes(`device boot core.wasm sha256 ${sha256}`), boot.stdout);

    const lab = decode(bytes("44011234abcd1234bb74656d7065726174757265"));
    assert.ok(
      lines.includes(
        `selftest decode error 0 type ${lab.type} code ${lab.code} mid ${lab.messageId} options ${lab.options.length}`,
      ),
      boot.stdout,
    );
    assert.ok(lines.includes("selftest roundtrip identical"), boot.stdout);

    // Same seed, same parameters, same clock: the same first deadline on RV32 as in Deno's WASM engine.
    const core = new ExchangeCore({ retransmitSlots: 32, dedupSlots: 64, seed: 1234 });
    core.schedule(1, 0x1234, 0, { ackTimeout: 2000, ackRandomFactor: 1.5, maxRetransmit: 4 });
    assert.ok(
      lines.includes(`selftest first deadline ${core.untilNextDeadline(0)} linear memory pages 1`),
      boot.stdout,
    );
  },
});
