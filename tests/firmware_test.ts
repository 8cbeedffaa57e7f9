// The firmware build (issue 5): the wasm2c translation of the very core.wasm
// Deno loads, linked for RV32IMC within the ESP32-C3 budget, which the link
// enforces. Booting it and talking to it is device_test.ts.
import assert from "node:assert/strict";
import { DEVICE_PACKAGES } from "../src/device/device.ts";
import {
  Code,
  ContentFormat,
  DEFAULT_PARAMETERS,
  exchangeLifetime,
  nonLifetime,
  OptionNumber,
  Type,
} from "../src/mod.ts";
import { cName, coapNumbersHeader } from "../firmware/c_headers.ts";
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
    // The build wrote the header the firmware compiled against.
    assert.equal(await Deno.readTextFile(`${root}build/firmware/coap_numbers.h`), coapNumbersHeader());
  },
});

/** `#define NAME VALUE` lines of a generated header, as numbers. */
function defines(header: string): Map<string, number> {
  return new Map(
    [...header.matchAll(/^#define (\w+) (\d+)u?$/gm)].map(([, name, value]) => [name, Number(value)]),
  );
}

Deno.test("firmware: coap_numbers.h carries the TypeScript registry's numbers", () => {
  const numbers = defines(coapNumbersHeader());
  assert.equal(numbers.get("COAP_CODE_CONTENT"), Code.Content);
  assert.equal(numbers.get("COAP_CODE_BAD_OPTION"), Code.BadOption);
  assert.equal(numbers.get("COAP_CODE_PROXYING_NOT_SUPPORTED"), Code.ProxyingNotSupported);
  assert.equal(numbers.get("COAP_CODE_IPATCH"), Code.IPatch);
  assert.equal(numbers.get("COAP_OPTION_URI_PATH"), OptionNumber.UriPath);
  assert.equal(numbers.get("COAP_OPTION_ETAG"), OptionNumber.ETag);
  assert.equal(numbers.get("COAP_OPTION_Q_BLOCK1"), OptionNumber.QBlock1);
  assert.equal(numbers.get("COAP_FORMAT_TEXT_PLAIN"), ContentFormat.TextPlain);
  assert.equal(numbers.get("COAP_FORMAT_LINK_FORMAT"), ContentFormat.LinkFormat);
  assert.equal(numbers.get("COAP_TYPE_RST"), Type.RST);
  assert.equal(numbers.get("COAP_ACK_TIMEOUT_MS"), DEFAULT_PARAMETERS.ackTimeout);
  assert.equal(numbers.get("COAP_ACK_RANDOM_FACTOR_MILLI"), DEFAULT_PARAMETERS.ackRandomFactor * 1000);
  assert.equal(numbers.get("COAP_MAX_RETRANSMIT"), DEFAULT_PARAMETERS.maxRetransmit);
  assert.equal(numbers.get("COAP_EXCHANGE_LIFETIME_MS"), exchangeLifetime(DEFAULT_PARAMETERS));
  assert.equal(numbers.get("COAP_NON_LIFETIME_MS"), nonLifetime(DEFAULT_PARAMETERS));
  assert.equal(numbers.get("COAP_EXCHANGE_LIFETIME_MS"), 247_000);
  // Every code, option, format and type is there, each under one name.
  const tables = {
    COAP_CODE_: Code,
    COAP_OPTION_: OptionNumber,
    COAP_FORMAT_: ContentFormat,
    COAP_TYPE_: Type,
  };
  for (const [prefix, table] of Object.entries(tables)) {
    for (const [name, value] of Object.entries(table)) {
      assert.equal(numbers.get(prefix + cName(name)), value, name);
    }
  }
});

Deno.test("firmware: a RAM budget beyond the 400 KiB QEMU gives is a usage error", async () => {
  const result = await build("--ram-budget-kib", "512");
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--ram-budget-kib must be an integer from 1 to 400/);
});
