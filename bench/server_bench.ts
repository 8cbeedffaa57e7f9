/**
 * bench:server — one C load generator keeps N Confirmable GETs in flight
 * against, in the same run: our server, a bare Deno UDP echo (the runtime's
 * floor), libcoap's coap-server-notls and a node-coap server; and against a C
 * UDP echo, to show the generator is not the bottleneck. All servers start
 * once; rounds alternate between them and each keeps its best round. Then the
 * peak memory of each CoAP server after requests from 10,000 client ports.
 * Prints a table; with --json one JSON array of rows, each with a `ratio`
 * (our requests/s over that row's).
 * @module
 */
import { parseArgs } from "node:util";
import { freeUdpPort, hasCommand, waitForCoap } from "../tests/_peers.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    inflight: { type: "string", default: "32" },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const inflight = Number(values.inflight);
const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();

interface Server {
  name: string;
  command: string;
  args: (port: number) => string[];
  path: string;
  /** Why the row cannot run, if it cannot. */
  missing?: string;
}

const OURS = "deno-coap (ours)";
const servers: Server[] = [
  {
    name: OURS,
    command: deno,
    args: (
      port,
    ) => ["run", "-A", `${root}main.ts`, "serve", "--host", "127.0.0.1", "--port", `${port}`, "--quiet"],
    path: "temperature",
  },
  {
    name: "bare Deno UDP echo",
    command: deno,
    args: (port) => ["run", "-A", `${root}bench/udp_echo_deno.ts`, `${port}`],
    path: "temperature",
  },
  {
    name: "libcoap coap-server-notls",
    command: "coap-server-notls",
    args: (port) => ["-A", "127.0.0.1", "-p", `${port}`],
    path: "time",
    missing: hasCommand("coap-server-notls")
      ? undefined
      : "coap-server-notls not installed (apt package libcoap3-bin)",
  },
  {
    name: "node-coap",
    command: "node",
    args: (port) => [`${root}tests/peers/node_coap_server.mjs`, `${port}`],
    path: "temperature",
    missing: hasCommand("node") ? undefined : "node not installed",
  },
];

async function compile(source: string, output: string): Promise<string> {
  const binary = `${root}build/${output}`;
  await Deno.mkdir(`${root}build`, { recursive: true });
  const result = await new Deno.Command("gcc", { args: ["-O2", "-o", binary, `${root}bench/${source}`] })
    .output();
  if (!result.success) throw new Error(`gcc ${source}: ${new TextDecoder().decode(result.stderr)}`);
  return binary;
}

interface Running {
  server: Server;
  port: number;
  child: Deno.ChildProcess;
}

async function start(server: Server): Promise<Running | string> {
  if (server.missing) return server.missing;
  const port = freeUdpPort();
  const child = new Deno.Command(server.command, { args: server.args(port), stdout: "null", stderr: "null" })
    .spawn();
  if (await waitForCoap(port).then(() => true, () => false)) return { server, port, child };
  child.kill("SIGKILL");
  await child.status;
  return "did not answer within 10 s";
}

async function stop(running: Running): Promise<void> {
  running.child.kill("SIGTERM");
  await running.child.status;
}

interface Load {
  rps: number;
  p50_us: number;
  p99_us: number;
  lost: number;
}

async function load(
  loadgen: string,
  port: number,
  path: string,
  duration: number,
  sourcePorts = 1,
): Promise<Load> {
  const output = await new Deno.Command(loadgen, {
    args: [
      "127.0.0.1",
      `${port}`,
      path,
      `${sourcePorts > 1 ? 512 : inflight}`,
      `${duration}`,
      `${sourcePorts}`,
    ],
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return Math.round(kb / 102.4) / 10;
}

const loadgen = await compile("loadgen.c", "loadgen");
const cEcho = await compile("udp_echo.c", "udp_echo");

// The generator's ceiling: the same load against a C server doing no more than the echo.
const ceilingPort = freeUdpPort();
const ceilingServer = new Deno.Command(cEcho, { args: [`${ceilingPort}`] }).spawn();
await new Promise((resolve) => setTimeout(resolve, 200));
const ceiling = await load(loadgen, ceilingPort, "temperature", seconds);
ceilingServer.kill("SIGKILL");
await ceilingServer.status;

const started = await Promise.all(servers.map(start));
const best = new Map<string, Load>();
for (let round = 0; round < rounds; round++) {
  for (const running of started) {
    if (typeof running === "string") continue;
    const result = await load(loadgen, running.port, running.server.path, seconds);
    const previous = best.get(running.server.name);
    if (!previous || result.rps > previous.rps) best.set(running.server.name, result);
  }
}
for (const running of started) if (typeof running !== "string") await stop(running);

// Memory: a fresh process per server, requests rotating over 10,000 client ports.
const SOURCE_PORTS = 10_000;
const memory: { name: string; idle_rss_mb?: number; peak_rss_mb?: number; skipped?: string }[] = [];
for (const server of servers.filter((s) => s.name !== "bare Deno UDP echo")) {
  const running = await start(server);
  if (typeof running === "string") {
    memory.push({ name: server.name, skipped: running });
    continue;
  }
  const idle = memoryMb(running.child.pid, "VmRSS");
  await load(loadgen, running.port, server.path, 3, SOURCE_PORTS);
  memory.push({ name: server.name, idle_rss_mb: idle, peak_rss_mb: memoryMb(running.child.pid, "VmHWM") });
  await stop(running);
}

const ours = best.get(OURS)?.rps ?? NaN;
const rows = started.map((running, i) => {
  const name = servers[i].name;
  const result = best.get(name);
  if (!result) return { name, skipped: running as string };
  return {
    name,
    rps: result.rps,
    p50_us: result.p50_us,
    p99_us: result.p99_us,
    lost: result.lost,
    ratio: ours / result.rps,
  };
});
const generatorRow = {
  name: "generator ceiling (C UDP echo)",
  rps: ceiling.rps,
  p50_us: ceiling.p50_us,
  p99_us: ceiling.p99_us,
  lost: ceiling.lost,
  ratio: ours / ceiling.rps,
};

if (values.json) {
  console.log(
    JSON.stringify([
      ...rows,
      generatorRow,
      ...memory.map((m) => ({ ...m, name: `${m.name}: memory after ${SOURCE_PORTS} client ports` })),
    ]),
  );
} else {
  console.log(
    `${inflight} CON GETs in flight, best of ${rounds} alternating rounds of ${seconds} s; ratio = ours / row\n`,
  );
  console.log(
    `${"server".padEnd(32)} ${"requests/s".padStart(10)} ${"p50 µs".padStart(8)} ${"p99 µs".padStart(8)} ${
      "lost".padStart(5)
    } ${"ratio".padStart(7)}`,
  );
  for (const row of [...rows, generatorRow]) {
    if ("skipped" in row) {
      console.log(`${row.name.padEnd(32)} skipped: ${row.skipped}`);
      continue;
    }
    console.log(
      `${row.name.padEnd(32)} ${row.rps.toLocaleString("en").padStart(10)} ${
        String(row.p50_us).padStart(8)
      } ${String(row.p99_us).padStart(8)} ${String(row.lost).padStart(5)} ${
        row.ratio.toFixed(2).padStart(6)
      }×`,
    );
  }
  console.log(`\nmemory (RSS) after requests from ${SOURCE_PORTS.toLocaleString("en")} client ports`);
  for (const row of memory) {
    console.log(
      row.skipped
        ? `${row.name.padEnd(32)} skipped: ${row.skipped}`
        : `${row.name.padEnd(32)} idle ${row.idle_rss_mb} MB, peak ${row.peak_rss_mb} MB`,
    );
  }
}
