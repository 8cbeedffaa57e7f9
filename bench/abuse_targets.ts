/**
 * The servers bench:abuse attacks, each a fresh process so its memory can be
 * read from /proc: our demo server (`main.ts serve`) and libcoap's
 * `coap-server-notls`, with the paths each has for every kind of attack.
 * @module
 */
import { freeUdpPort, hasCommand, waitForCoap } from "../tests/_peers.ts";

/** A server under attack. */
export interface Target {
  readonly name: string;
  /** Why it cannot run here, if it cannot. */
  readonly missing?: string;
  /** Its resources: one that is observable, the largest it has, one answered separately, one taking Block1. */
  readonly paths: {
    readonly observable: string;
    readonly every: string[];
    readonly slow?: string;
    readonly upload?: string;
  };
  readonly command: string;
  readonly args: (port: number) => string[];
}

/** A started target. */
export interface Running {
  readonly target: Target;
  readonly port: number;
  readonly pid: number;
  /** Resident memory now and at its peak, in MB. */
  memory(): { rss: number; peak: number };
  stop(): Promise<void>;
}

const root = new URL("../", import.meta.url).pathname;

/** The targets: ours, and libcoap's where it is installed. */
export const TARGETS: Target[] = [
  {
    name: "deno-coap (ours)",
    command: Deno.execPath(),
    args: (
      port,
    ) => ["run", "-A", `${root}main.ts`, "serve", "--host", "127.0.0.1", "--port", `${port}`, "--quiet"],
    paths: {
      observable: "temperature",
      every: ["temperature", "readings", "led", "config", "large", "upload", ".well-known/core"],
      slow: "slow",
      upload: "upload",
    },
  },
  {
    name: "libcoap coap-server-notls",
    missing: hasCommand("coap-server-notls")
      ? undefined
      : "coap-server-notls not installed (apt libcoap3-bin)",
    command: "coap-server-notls",
    args: (port) => ["-A", "127.0.0.1", "-p", `${port}`, "-e"],
    paths: {
      observable: "time",
      every: ["", "time", "async", "example_data", ".well-known/core"],
      upload: "example_data",
    },
  },
];

function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return Math.round(kb / 102.4) / 10;
}

/** Starts `target` on a free port and waits until it answers. */
export async function start(target: Target): Promise<Running> {
  const port = freeUdpPort();
  const child = new Deno.Command(target.command, { args: target.args(port), stdout: "null", stderr: "null" })
    .spawn();
  try {
    await waitForCoap(port);
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  }
  return {
    target,
    port,
    pid: child.pid,
    memory: () => ({ rss: memoryMb(child.pid, "VmRSS"), peak: memoryMb(child.pid, "VmHWM") }),
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}
