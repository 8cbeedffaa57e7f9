/** `device [--port P] [--edge URI] [--seed N] [--quiet]`: the emulated sensor node under QEMU, reachable over UDP. */
import { DeviceError, startDevice } from "../device/device.ts";
import { integerFlag, portFlag } from "./flag_values.ts";
import { parseFlags } from "./parse_flags.ts";
import { untilSignal } from "./until_signal.ts";
import { UsageError } from "./usage_error.ts";

/** Exit code when the device cannot start (missing QEMU or toolchain, failed build, no "ready"). */
const EXIT_DEVICE_FAILED = 1;

/** Usage text of `device`. */
export const DEVICE_USAGE = `device [--port P] [--edge URI] [--seed N] [--quiet]
  Boot the ESP32-class sensor node (RV32IMC under QEMU) at coap://127.0.0.1:P; Ctrl-C stops it.
  --edge coap://127.0.0.1:Q/readings: PUT each reading to an edge server.
  example:
    device --port 5690 --edge coap://127.0.0.1:5683/readings`;

/** Runs the device until SIGINT/SIGTERM; returns the exit code. */
export async function deviceCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    port: { type: "string", default: "5683" },
    edge: { type: "string" },
    seed: { type: "string" },
    quiet: { type: "boolean" },
  });
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${DEVICE_USAGE}`);
  }
  const port = portFlag("port", values.port);
  const seed = values.seed === undefined ? undefined : integerFlag("seed", values.seed, 2 ** 32 - 1);
  let device;
  try {
    device = await startDevice({
      port,
      edge: values.edge,
      seed,
      onLog: values.quiet ? undefined : (line) => console.log(`  device: ${line}`),
    });
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    if (error instanceof Deno.errors.AddrInUse) throw new UsageError(`port ${port} is in use on 127.0.0.1`);
    if (error instanceof DeviceError) {
      console.error(`error: ${error.message}`);
      return EXIT_DEVICE_FAILED;
    }
    throw error;
  }
  console.log(`device ready ${device.url} (boot ${device.bootMs.toFixed(0)} ms)`);
  await untilSignal();
  await device.stop();
  return 0;
}
