/**
 * `deno task firmware [--ram-budget-kib N]`: translates src/core/core.wasm to C
 * with wasm2c, builds the RV32IMC firmware around it for QEMU's virt machine,
 * embeds the SHA-256 of the .wasm it translated, and prints flash and RAM use
 * against the budget (the link itself fails when over: 400 KiB of RAM unless
 * told otherwise, 4 MiB of code). Output in build/firmware/: firmware.elf, and
 * flash.bin, the 32 MiB pflash image QEMU boots from; and the generated
 * headers (c_headers.ts) the sources include: layout.h and coap_numbers.h.
 * @module
 */
import { parseArgs } from "node:util";
import { coapNumbersHeader, layoutHeader } from "./c_headers.ts";

const root = new URL("../", import.meta.url).pathname;
const out = `${root}build/firmware`;
const TOOLS: [string, string][] = [
  ["wasm2c", "wabt"],
  ["riscv64-unknown-elf-gcc", "gcc-riscv64-unknown-elf"],
  ["riscv64-unknown-elf-size", "binutils-riscv64-unknown-elf"],
  ["riscv64-unknown-elf-objcopy", "binutils-riscv64-unknown-elf"],
];
const PICOLIBC_SPECS = "/usr/lib/picolibc/riscv64-unknown-elf/picolibc.specs";
const FLASH_BUDGET = 4 * 1024 * 1024;
const FLASH_IMAGE_SIZE = 32 * 1024 * 1024;
const SOURCES = [
  "start.S",
  "main.c",
  "sensor_node.c",
  "coap_loop.c",
  "coap_server.c",
  "coap_block2.c",
  "coap_observe.c",
  "coap_client.c",
  "coap_link.c",
  "coap_option.c",
  "core_glue.c",
  "slipmux.c",
  "ipv4_udp.c",
  "text.c",
  "uart.c",
  "clock.c",
  "random.c",
  "device_config.c",
  "wasm_rt_static.c",
];
/** Debian's wasm2c runtime header, which the generated code includes; copied alone, as the rest of /usr/include is the host's libc. */
const WASM_RT_HEADER = "/usr/include/wasm-rt.h";

async function run(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!result.success) {
    console.error(`error: ${command} failed:\n${text.decode(result.stderr)}`);
    Deno.exit(1);
  }
  return text.decode(result.stdout);
}

function missingTools(): string[] {
  const path = (Deno.env.get("PATH") ?? "").split(":");
  const has = (command: string) =>
    path.some((directory) => {
      try {
        return Deno.statSync(`${directory}/${command}`).isFile;
      } catch {
        return false;
      }
    });
  const missing = TOOLS.filter(([command]) => !has(command)).map(([command, pkg]) =>
    `${command} (apt package ${pkg})`
  );
  try {
    Deno.statSync(PICOLIBC_SPECS);
  } catch {
    missing.push("picolibc (apt package picolibc-riscv64-unknown-elf)");
  }
  return missing;
}

const { values } = parseArgs({
  args: Deno.args,
  options: { "ram-budget-kib": { type: "string", default: "400" } },
});
const ramBudgetKib = Number(values["ram-budget-kib"]);
if (!Number.isInteger(ramBudgetKib) || ramBudgetKib < 1 || ramBudgetKib > 400) {
  console.error(`error: --ram-budget-kib must be an integer from 1 to 400 (QEMU gives the device 400 KiB)`);
  Deno.exit(2);
}
const missing = missingTools();
if (missing.length > 0) {
  console.error(`error: cannot build the firmware, missing: ${missing.join(", ")}`);
  Deno.exit(2);
}
await Deno.mkdir(out, { recursive: true });
const wasm = await Deno.readFile(`${root}src/core/core.wasm`);
const sha256 = Array.from(
  new Uint8Array(await crypto.subtle.digest("SHA-256", wasm)),
  (b) => b.toString(16).padStart(2, "0"),
)
  .join("");
await run("wasm2c", [`${root}src/core/core.wasm`, "-o", `${out}/core.c`]);
await Deno.writeTextFile(`${out}/layout.h`, layoutHeader());
await Deno.writeTextFile(`${out}/coap_numbers.h`, coapNumbersHeader());
await Deno.copyFile(WASM_RT_HEADER, `${out}/wasm-rt.h`);
await Deno.writeTextFile(`${out}/core_sha256.c`, `const char CORE_WASM_SHA256[] = "${sha256}";\n`);
const elf = `${out}/firmware.elf`;
const flash = `${out}/flash.bin`;
// A failed build must leave no image behind, or the device would boot the previous one.
await Deno.remove(flash).catch(() => {});
await run("riscv64-unknown-elf-gcc", [
  "-march=rv32imc",
  "-mabi=ilp32",
  `--specs=${PICOLIBC_SPECS}`,
  "-nostartfiles",
  // wasm2c output wants -DNDEBUG; -O2 beats -Os 2.5-3x on it (DESIGN.md).
  "-O2",
  "-DNDEBUG",
  "-ffunction-sections",
  "-Wl,--gc-sections",
  `-Wl,--defsym=RAM_BUDGET=${ramBudgetKib * 1024}`,
  `-Wl,--defsym=FLASH_BUDGET=${FLASH_BUDGET}`,
  `-T${root}firmware/link.ld`,
  `-I${out}`,
  `-I${root}firmware`,
  "-o",
  elf,
  ...SOURCES.map((source) => `${root}firmware/${source}`),
  `${out}/core.c`,
  `${out}/core_sha256.c`,
]);
// QEMU's virt machine wants each pflash unit to be exactly 32 MiB.
await run("riscv64-unknown-elf-objcopy", ["-O", "binary", elf, flash]);
await Deno.truncate(flash, FLASH_IMAGE_SIZE);
const [, sizes] = (await run("riscv64-unknown-elf-size", [elf])).trim().split("\n");
const [text, data, bss] = sizes.trim().split(/\s+/).map(Number);
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log(`firmware ${elf}, flash image ${flash}`);
console.log(`core.wasm sha256 ${sha256}`);
console.log(
  `flash in use ${kib(text + data)} of ${kib(FLASH_BUDGET)}: code and read-only data ${
    kib(text)
  }, data to copy ${kib(data)}`,
);
// The linear memory's size is the runtime's (wasm_rt_static.h), not the module's: read it from there.
const pages = Number(
  /#define LINEAR_MEMORY_PAGES (\d+)u/.exec(await Deno.readTextFile(`${root}firmware/wasm_rt_static.h`))?.[1],
);
console.log(
  `RAM in use ${kib(data + bss)} of ${kib(ramBudgetKib * 1024)}: data ${kib(data)}, bss ${kib(bss)} ` +
    `(incl. the ${pages * 64} KiB WASM linear memory, the 16 KiB stack and 256 B of settings)`,
);
