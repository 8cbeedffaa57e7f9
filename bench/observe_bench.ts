/**
 * bench:observe — one observable resource with 10,000 observers, each on its
 * own UDP port (bench/observers.c): the time one notification takes to reach
 * all of them, and the server's peak memory. Our demo server's /temperature
 * (a change every 2 s; limits raised to admit 10,000 observers from one
 * address), libcoap's /time and a node-coap resource, in one run.
 * Prints a table; with --json one JSON array of rows with a `ratio` field
 * (that row's fan-out time over ours: above 1 means we are faster).
 * @module
 */
import { parseArgs } from "node:util";
import { freeUdpPort, waitForCoap } from "../tests/_peers.ts";
import { serveTaskFlags } from "./serve_task_flags.ts";

const { values } = parseArgs({
  options: { json: { type: "boolean" }, observers: { type: "string", default: "10000" } },
});
const observers = Number(values.observers);
const root = new URL("../", import.meta.url).pathname;

interface Server {
  name: string;
  command: string;
  args: (port: number) => string[];
  path: string;
}

const servers: Server[] = [
  {
    name: "deno-coap (ours)",
    command: Deno.execPath(),
    // `serve`'s demo site with the bounds raised that would admit only 256 of the observers, which all
    // share one IP address (observeLimits.perAddress; and 8,192 peers): bench/observe_bench_server.ts, run
    // with `deno task serve`'s V8 flags.
    args: (port) => ["run", ...serveTaskFlags(), "-A", `${root}bench/observe_bench_server.ts`, `${port}`],
    path: "temperature",
  },
  {
    name: "libcoap coap-server-notls",
    command: "coap-server-notls",
    args: (port) => ["-A", "127.0.0.1", "-p", `${port}`],
    path: "time",
  },
  {
    name: "node-coap",
    command: "node",
    // A new state every 2 s, as our demo's /temperature.
    args: (port) => [`${root}tests/peers/node_coap_server.mjs`, `${port}`, "2000"],
    path: "counter",
  },
];

const tool = `${root}build/observers`;
await Deno.mkdir(`${root}build`, { recursive: true });
const compiled = await new Deno.Command("gcc", { args: ["-O2", "-o", tool, `${root}bench/observers.c`] })
  .output();
if (!compiled.success) throw new Error(new TextDecoder().decode(compiled.stderr));

type Row = {
  name: string;
  observers?: number;
  reached?: number;
  fanout_ms?: number;
  peak_rss_mb?: number;
  skipped?: string;
};
const rows: Row[] = [];
for (const server of servers) {
  const port = freeUdpPort();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(server.command, { args: server.args(port), stdout: "null", stderr: "null" })
      .spawn();
  } catch (error) {
    rows.push({ name: server.name, skipped: `${server.command}: ${(error as Error).message}` });
    continue;
  }
  try {
    if (!(await waitForCoap(port).then(() => true, () => false))) {
      rows.push({ name: server.name, skipped: "did not answer within 10 s" });
      continue;
    }
    const output = await new Deno.Command(tool, {
      args: ["127.0.0.1", `${port}`, server.path, `${observers}`],
    }).output();
    const result = JSON.parse(new TextDecoder().decode(output.stdout));
    const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    rows.push({
      name: server.name,
      observers: result.registered,
      reached: result.reached,
      // With nobody reached there is no fan-out time to speak of.
      fanout_ms: result.reached > 0 ? result.fanout_ms : undefined,
      peak_rss_mb: Math.round(peakKb / 102.4) / 10,
    });
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

const ours = rows[0].fanout_ms ?? NaN;
const withRatio = rows.map((row) =>
  row.fanout_ms === undefined ? row : { ...row, ratio: row.fanout_ms / ours }
);
if (values.json) {
  console.log(JSON.stringify(withRatio));
} else {
  console.log(
    `one notification to ${
      observers.toLocaleString("en")
    } observers on distinct ports; ratio = row's fan-out time / ours\n`,
  );
  console.log(
    `${"server".padEnd(28)} ${"registered".padStart(10)} ${"reached".padStart(8)} ${
      "fan-out ms".padStart(11)
    } ${"peak RSS MB".padStart(12)} ${"ratio".padStart(7)}`,
  );
  for (const row of withRatio) {
    if (row.skipped) {
      console.log(`${row.name.padEnd(28)} skipped: ${row.skipped}`);
      continue;
    }
    const ratio = "ratio" in row ? `${(row.ratio as number).toFixed(2)}×` : "-";
    const fanout = row.fanout_ms === undefined ? "none in 20 s" : row.fanout_ms.toFixed(1);
    console.log(
      `${row.name.padEnd(28)} ${String(row.observers).padStart(10)} ${String(row.reached).padStart(8)} ${
        fanout.padStart(12)
      } ${String(row.peak_rss_mb).padStart(12)} ${ratio.padStart(7)}`,
    );
  }
}
