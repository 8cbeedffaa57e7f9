/** Runs main.ts as a user would, in a subprocess. */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Exit code, stdout and stderr of `deno run -A main.ts …args`. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: output.code, stdout: text.decode(output.stdout), stderr: text.decode(output.stderr) };
}
