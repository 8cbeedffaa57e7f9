/**
 * Live memory (V8 heap and external buffers) after garbage collection, for the probes that tests run in a
 * subprocess with --v8-flags=--expose-gc.
 */
const gc = (globalThis as unknown as { gc?: () => void }).gc;

/** Heap and external bytes still in use once GC (and the sweeper that frees ArrayBuffer stores) has run. */
export async function liveBytes(): Promise<number> {
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const { heapUsed, external } = Deno.memoryUsage();
  return heapUsed + external;
}

/** Runs a probe script with GC exposed and returns the JSON object it prints last. */
export async function runProbe(script: string, args: string[] = []): Promise<Record<string, number>> {
  const path = new URL(script, import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", path, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${script} failed:\n${stderr}`);
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}
