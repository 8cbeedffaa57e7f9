/** Helpers for tests and benchmarks that run real peers (libcoap, node-coap) as processes. */
import { openSsl } from "../src/dtls/libssl.ts";

/**
 * Whether `name` is an executable on PATH. Deno puts a `node` that is Deno itself
 * (its Node compatibility mode) on the PATH of its children when no Node is
 * installed; that is not the peer the tests mean, so it does not count.
 */
export function hasCommand(name: string): boolean {
  const deno = Deno.realPathSync(Deno.execPath());
  for (const directory of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = `${directory}/${name}`;
      const info = Deno.statSync(path);
      if (!info.isFile || ((info.mode ?? 0o111) & 0o111) === 0) continue;
      if (name !== "deno" && Deno.realPathSync(path) === deno) continue;
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export function freeUdpPort(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/**
 * Two adjacent UDP ports Q-1 and Q that were free a moment ago on 127.0.0.1; returns Q. libcoap's servers
 * serve coap:// on their `-p` port and coaps:// on the next one.
 */
export function freeCoapsPortPair(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (first.addr as Deno.NetAddr).port;
    try {
      const second = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: port + 1 });
      second.close();
      return port + 1;
    } catch {
      // taken: try another
    } finally {
      first.close();
    }
  }
  throw new Error("no two adjacent free UDP ports");
}

/** Runs a command to completion (with `env` added to its environment), killing it after `timeoutMs`. */
export async function runCommand(
  command: string,
  args: string[],
  timeoutMs = 10_000,
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const output = await child.output();
    const text = new TextDecoder();
    return { code: output.code, stdout: text.decode(output.stdout), stderr: text.decode(output.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** A long-running peer process; `stop()` ends it and waits for it. */
export function startProcess(command: string, args: string[]): { stop: () => Promise<void> } {
  const child = new Deno.Command(command, { args, stdout: "null", stderr: "null" }).spawn();
  return {
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

/** Test name and ignore flag for a test that needs `commands`: skipped, with the package named, when one is missing. */
export function needs(
  name: string,
  commands: string[],
  aptPackage: string,
): { name: string; ignore: boolean } {
  const missing = commands.filter((command) => !hasCommand(command));
  return missing.length === 0 ? { name, ignore: false } : {
    name: `${name} (skipped: ${missing.join(", ")} not installed; apt package ${aptPackage})`,
    ignore: true,
  };
}

/** Waits until a CoAP server answers on 127.0.0.1:`port` (at most ~5 s). */
export async function waitForCoap(port: number): Promise<void> {
  const { CoapClient } = await import("../src/mod.ts");
  const client = new CoapClient();
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const started = performance.now();
      try {
        await client.get(`coap://127.0.0.1:${port}/.well-known/core`, { timeout: 100 });
        return;
      } catch {
        // Not up yet. A closed port fails at once (ICMP port unreachable): each attempt still takes 100 ms.
        await new Promise((resolve) => setTimeout(resolve, 100 - (performance.now() - started)));
      }
    }
    throw new Error(`nothing answers CoAP on port ${port}`);
  } finally {
    client.close();
  }
}

/** Test name and ignore flag for a test that needs the system OpenSSL 3 (DTLS): skipped, with the reason, without it. */
export function needsOpenSsl(name: string): { name: string; ignore: boolean } {
  try {
    openSsl();
    return { name, ignore: false };
  } catch (error) {
    return { name: `${name} (skipped: ${(error as Error).message})`, ignore: true };
  }
}
