/** Runs main.ts as a user would, in a subprocess. */
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** What a finished command left: exit code, stdout (also as bytes) and stderr. */
export interface CliResult {
  code: number;
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
}

/** The command line that runs main.ts with `args`. */
export function cliCommand(args: string[]): { command: string; args: string[] } {
  return { command: Deno.execPath(), args: ["run", "-A", "--quiet", MAIN, ...args] };
}

/** Exit code, stdout and stderr of `deno run -A main.ts …args`. */
export async function runCli(args: string[]): Promise<CliResult> {
  return finished(await spawnCli(args).output());
}

/** `deno run -A main.ts …args` started, its output piped, for a test that watches or signals it. */
export function spawnCli(args: string[]): Deno.ChildProcess {
  const { command, args: all } = cliCommand(args);
  return new Deno.Command(command, { args: all, stdout: "piped", stderr: "piped" }).spawn();
}

/** A spawned command's output as a CliResult. */
export function finished(output: Deno.CommandOutput): CliResult {
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stdoutBytes: output.stdout,
    stderr: text.decode(output.stderr),
  };
}
