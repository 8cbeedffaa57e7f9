/**
 * The runtime flags of `deno task serve` (deno.json), so a benchmark runs our server as that task does.
 * @module
 */

/**
 * What stands between `run` and `main.ts` in the serve task, less `-A` (the benchmarks give permissions
 * themselves).
 */
export function serveTaskFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const words = (config.tasks.serve as string).split(/\s+/);
  return words.slice(words.indexOf("run") + 1, words.indexOf("main.ts")).filter((word) => word !== "-A");
}
