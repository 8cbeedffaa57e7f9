/** `main.ts serve …` in a subprocess on a free port, for the tests of what it serves and logs. */
import { cliCommand } from "./_cli.ts";
import { freeUdpPort } from "./_peers.ts";

/** What a serve run printed, and how it ended after SIGTERM. */
export interface ServeRun {
  stdout: string;
  stderr: string;
  code: number;
  signal: Deno.Signal | null;
}

/**
 * Starts `serve --host 127.0.0.1 --port P …args`, waits for its listening line, runs `use` with the base
 * URI, then sends SIGTERM and returns everything it printed and its exit status.
 */
export async function withServe(
  args: string[],
  use: (base: string) => Promise<void>,
  options: { cwd?: string } = {},
): Promise<ServeRun> {
  const port = freeUdpPort();
  const { command, args: all } = cliCommand([
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    ...args,
  ]);
  const child = new Deno.Command(command, { args: all, cwd: options.cwd, stdout: "piped", stderr: "piped" })
    .spawn();
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  try {
    await stdout.until("listening on");
    await use(`coap://127.0.0.1:${port}`);
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  return { stdout: await stdout.all, stderr: await stderr.all, code: status.code, signal: status.signal };
}

/** A stream read to its end in the background; `until` waits for some text to have appeared. */
function collect(stream: ReadableStream<Uint8Array>) {
  let text = "";
  const waiting: { wanted: string; resolve: () => void }[] = [];
  const all = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      for (const waiter of waiting.filter((waiter) => text.includes(waiter.wanted))) waiter.resolve();
    }
    return text;
  })();
  return {
    all,
    until(wanted: string): Promise<void> {
      if (text.includes(wanted)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        waiting.push({ wanted, resolve });
        all.then(() => reject(new Error(`serve ended without printing "${wanted}":\n${text}`)));
      });
    },
  };
}
