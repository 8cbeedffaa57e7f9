/**
 * The emulated device as a whole: builds the firmware when its sources are
 * newer than the image, boots it under qemu-system-riscv32, and connects it to
 * a DeviceBridge, so it answers at coap://127.0.0.1:PORT.
 * @module
 */
import { DeviceBridge } from "./bridge.ts";

const root = new URL("../../", import.meta.url).pathname;
/** The flash image `deno task firmware` builds last (after firmware.elf), which QEMU boots. */
const FLASH_IMAGE = `${root}build/firmware/flash.bin`;
/** The apt packages the device needs, named in every "missing" message. */
export const DEVICE_PACKAGES =
  "qemu-system-misc, wabt, gcc-riscv64-unknown-elf, picolibc-riscv64-unknown-elf";
/** RV32IMC with 400 KiB of RAM, the firmware in flash, no firmware of QEMU's own: the ESP32-C3-class budget (DESIGN.md). */
const MACHINE = [
  "-M",
  "virt",
  "-cpu",
  "rv32,a=false,f=false,d=false,h=false,s=false,mmu=false",
  "-m",
  "400K",
  "-bios",
  "none",
  "-display",
  "none",
  "-monitor",
  "none",
];

/** Where link.ld reserves the settings area: the top 256 bytes of the 400 KiB of RAM (firmware/device_config.h). */
const CONFIG_ADDRESS = 0x80000000 + 400 * 1024 - 256;

/** Why the device could not start (missing tools, failed build, no "ready" in time). */
export class DeviceError extends Error {
  override name = "DeviceError";
}

/** How to start the device. */
export interface DeviceOptions {
  /** UDP port on 127.0.0.1 for the device; 0 picks a free one. */
  port?: number;
  /** Where the device PUTs its readings: coap://A.B.C.D[:PORT]/path. */
  edge?: string;
  /** Seeds the device's random source (Message IDs, tokens, retransmission timeouts, the simulated sensor). */
  seed?: number;
  /** The device's log lines as they arrive. */
  onLog?: (line: string) => void;
  /** How long boot may take, ms. */
  readyTimeout?: number;
}

/** A running device. */
export interface Device {
  /** coap://127.0.0.1:PORT */
  readonly url: string;
  readonly bridge: DeviceBridge;
  /** From starting QEMU to the firmware's "device ready" line, ms. */
  readonly bootMs: number;
  /** Every log line so far. */
  readonly log: string[];
  /** Resolves with the first log line (from now on, or already logged) matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Stops QEMU and the bridge. */
  stop(): Promise<void>;
}

function onPath(command: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((directory) => {
    try {
      return Deno.statSync(`${directory}/${command}`).isFile;
    } catch {
      return false;
    }
  });
}

function newestSource(): number {
  // What the build reads besides firmware/: the core, and the TypeScript its generated headers come from.
  const sources = [
    `${root}src/core/core.wasm`,
    `${root}core-as/layout.ts`,
    ...["code", "option", "content_format", "type"].map((name) => `${root}src/message/${name}.ts`),
    `${root}src/client/uri.ts`,
    `${root}src/endpoint/params.ts`,
  ];
  for (const entry of Deno.readDirSync(`${root}firmware`)) sources.push(`${root}firmware/${entry.name}`);
  return Math.max(...sources.map((path) => Deno.statSync(path).mtime?.getTime() ?? 0));
}

/** Builds the firmware unless the image is newer than every source. */
export async function ensureFirmware(): Promise<void> {
  try {
    if ((Deno.statSync(FLASH_IMAGE).mtime?.getTime() ?? 0) > newestSource()) return;
  } catch {
    // Not built yet.
  }
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}firmware/build.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!build.success) {
    throw new DeviceError(`firmware build failed:\n${new TextDecoder().decode(build.stderr).trim()}`);
  }
}

/** A URI the device can use: coap:// with an IPv4 literal (the device has no resolver) and a path. */
export function checkEdgeUri(edge: string): void {
  const match = /^coap:\/\/(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?\/[^?#]+$/.exec(edge);
  const valid = match !== null && match[1].split(".").every((octet) => Number(octet) <= 255) &&
    (match[2] === undefined || (Number(match[2]) > 0 && Number(match[2]) <= 65535));
  if (!valid || edge.length > 95) {
    throw new RangeError(
      `--edge must look like coap://127.0.0.1:5684/readings (an IPv4 literal, a path), not ${edge}`,
    );
  }
}

/**
 * Boots the device and resolves once it is ready. Needs qemu-system-riscv32 and the RISC-V toolchain
 * (scripts/install_system_tools.sh); without them it throws DeviceError naming the apt packages.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient } from "../mod.ts";
 * import { startDevice } from "./device.ts";
 * const device = await startDevice({ port: 0 }); // device.url is coap://127.0.0.1:PORT
 * const client = new CoapClient();
 * const response = await client.get(`${device.url}/temperature`);
 * assert.equal(response.codeString, "2.05");
 * client.close();
 * await device.stop();
 * ```
 */
export async function startDevice(options: DeviceOptions = {}): Promise<Device> {
  if (options.edge !== undefined) checkEdgeUri(options.edge);
  if (!onPath("qemu-system-riscv32")) {
    throw new DeviceError(`qemu-system-riscv32 is missing: install the apt packages ${DEVICE_PACKAGES}`);
  }
  await ensureFirmware();
  const log: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const bridge = new DeviceBridge({
    port: options.port ?? 0,
    onDiagnostic: (line) => {
      log.push(line);
      options.onLog?.(line);
      for (const waiter of waiters) {
        if (waiter.pattern.test(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    },
    onInvalid: (reason) => options.onLog?.(`bridge: ${reason}`),
  });
  const waitForLog = (pattern: RegExp, timeoutMs: number): Promise<string> => {
    const seen = log.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new DeviceError(`no device log line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  };
  const seed = (options.seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
  const configFile = await Deno.makeTempFile({ prefix: "device-config-" });
  await Deno.writeTextFile(configFile, `seed=${seed}\n${options.edge ? `edge=${options.edge}\n` : ""}\0`);
  const started = performance.now();
  const qemu = new Deno.Command("qemu-system-riscv32", {
    args: [
      ...MACHINE,
      "-device",
      `loader,file=${configFile},addr=0x${CONFIG_ADDRESS.toString(16)},force-raw=on`,
      "-chardev",
      `socket,id=link,host=127.0.0.1,port=${bridge.serialPort},server=off,nodelay=on`,
      "-serial",
      "chardev:link",
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${FLASH_IMAGE}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const exited = qemu.output().then((result) => {
    Deno.removeSync(configFile);
    return new TextDecoder().decode(result.stderr).trim();
  });
  const stop = async () => {
    bridge.close();
    try {
      qemu.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await exited;
  };
  try {
    await Promise.race([
      bridge.connect().then(() => waitForLog(/^device ready/, options.readyTimeout ?? 30_000)),
      exited.then((stderr) => {
        throw new DeviceError(`QEMU exited before the device was ready${stderr ? `: ${stderr}` : ""}`);
      }),
    ]);
  } catch (error) {
    await stop();
    const failure = log.find((line) => line.startsWith("error:"));
    throw failure ? new DeviceError(failure) : error;
  }
  const bootMs = performance.now() - started;
  return {
    url: `coap://${bridge.address.hostname}:${bridge.address.port}`,
    bridge,
    bootMs,
    log,
    waitForLog,
    stop,
  };
}
