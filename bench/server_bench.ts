/**
 * bench:server — one batched C load generator (bench/loadgen.c) keeps N Confirmable GETs in flight against,
 * in the same run: our server with the batched FFI transport (1 worker, and `--workers 2`), our server on
 * `Deno.listenDatagram`, libcoap's coap-server-notls, node-coap, a bare Deno UDP echo (the runtime's
 * floor) and a bare C UDP echo (the generator's ceiling). All servers start once; rounds alternate
 * between them, each load begins with an uncounted warm-up, and each row keeps its best round. Then the
 * same with the load spread over 1,000 client ports, and the peak memory of each CoAP server after
 * requests from 10,000 client ports. A server that cannot start (e.g. a `serve` without the flag its row
 * needs) is a skipped row with the reason. Prints a table; with --json one JSON array of rows, each with
 * a `ratio` (the reference row's figure over that row's; the reference is ours, batched, 1 worker unless
 * `--ratio-to ID` says otherwise).
 * @module
 */
import { parseArgs } from "node:util";
import { freeUdpPort, hasCommand, waitForCoap } from "../tests/_peers.ts";
import { serveTaskFlags } from "./serve_task_flags.ts";

interface Server {
  /** Short name for `--ratio-to`. */
  id: string;
  name: string;
  command: string;
  args: (port: number) => string[];
  env?: Record<string, string>;
  path: string;
  /** Client ports of the main load. */
  clientPorts: number;
  /** Also loaded from MANY_PORTS client ports. */
  manyPorts: boolean;
  /** Also measured for memory (single-process servers: VmHWM is per process). */
  memory: boolean;
  /** Why the row cannot run, if it cannot. */
  missing?: string;
}

const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();
const taskFlags = serveTaskFlags();
const serve = (port: number, ...flags: string[]) => [
  "run",
  ...taskFlags,
  "-A",
  `${root}main.ts`,
  "serve",
  "--host",
  "127.0.0.1",
  "--port",
  `${port}`,
  "--quiet",
  ...flags,
];
const noLibcoap = hasCommand("coap-server-notls")
  ? undefined
  : "coap-server-notls not installed (apt package libcoap3-bin)";
const servers: Server[] = [
  {
    id: "ours-batched",
    name: "ours, batched UDP, 1 worker",
    command: deno,
    args: (port) => serve(port, "--udp", "batched"),
    path: "temperature",
    clientPorts: 1,
    manyPorts: true,
    memory: true,
  },
  {
    id: "ours-workers",
    // SO_REUSEPORT hashes by source address and port: from one client port every request meets one worker.
    name: "ours, batched UDP, --workers 2 (8 ports)",
    command: deno,
    args: (port) => serve(port, "--udp", "batched", "--workers", "2"),
    path: "temperature",
    clientPorts: 8,
    manyPorts: false,
    memory: false,
  },
  {
    id: "ours-deno",
    name: "ours, Deno.listenDatagram",
    command: deno,
    // The environment, not `--udp deno`: a serve that predates the switch ignores it and runs this very
    // transport, where an unknown flag would make it exit.
    args: (port) => serve(port),
    env: { COAP_UDP: "deno" },
    path: "temperature",
    clientPorts: 1,
    manyPorts: true,
    memory: true,
  },
  {
    id: "libcoap",
    name: "libcoap coap-server-notls",
    command: "coap-server-notls",
    args: (port) => ["-A", "127.0.0.1", "-p", `${port}`],
    path: "time",
    clientPorts: 1,
    manyPorts: true,
    memory: true,
    missing: noLibcoap,
  },
  {
    id: "node-coap",
    name: "node-coap",
    command: "node",
    args: (port) => [`${root}tests/peers/node_coap_server.mjs`, `${port}`],
    path: "temperature",
    clientPorts: 1,
    manyPorts: false,
    memory: true,
    missing: hasCommand("node") ? undefined : "node not installed",
  },
  {
    id: "deno-echo",
    name: "bare Deno UDP echo",
    command: deno,
    args: (port) => ["run", "-A", `${root}bench/udp_echo_deno.ts`, `${port}`],
    path: "temperature",
    clientPorts: 1,
    manyPorts: false,
    memory: false,
  },
  {
    id: "c-echo",
    name: "bare C UDP echo (ceiling)",
    command: `${root}build/udp_echo`,
    args: (port) => [`${port}`],
    path: "temperature",
    clientPorts: 1,
    manyPorts: true,
    memory: false,
  },
];
/**
 * Measured for memory only: our server without the task's V8 flags, to show what they save; the default row
 * runs with them.
 */
const memoryOnly: Server[] = [{
  ...servers[0],
  id: "ours-v8-defaults",
  name: "ours, batched, V8 defaults (no --v8-flags)",
  args: (port) => serve(port, "--udp", "batched").filter((arg) => !taskFlags.includes(arg)),
}];
const CEILING = "c-echo";
const MANY_PORTS = 1_000;
const MEMORY_PORTS = 10_000;
/** Long enough that even a server slowed to ~3 k/s by 10,000 peers (libcoap) is asked from every port. */
const MEMORY_SECONDS = 5;
/** The generator's ceiling should be at least this many times the fastest server's rate. */
const CEILING_MARGIN = 3;

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    seconds: { type: "string", default: "3" },
    warmup: { type: "string", default: "0.5" },
    rounds: { type: "string", default: "3" },
    inflight: { type: "string", default: "32" },
    "ratio-to": { type: "string", default: "ours-batched" },
  },
});
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);
const inflight = Number(values.inflight);
const reference = servers.find((server) => server.id === values["ratio-to"]);
if (!reference) {
  console.error(`--ratio-to: one of ${servers.map((server) => server.id).join(", ")}`);
  Deno.exit(2);
}

async function compile(source: string, output: string): Promise<string> {
  const binary = `${root}build/${output}`;
  await Deno.mkdir(`${root}build`, { recursive: true });
  const result = await new Deno.Command("cc", {
    args: ["-O2", "-Wall", "-Wextra", "-o", binary, `${root}bench/${source}`],
  }).output();
  const warnings = new TextDecoder().decode(result.stderr);
  if (!result.success) throw new Error(`cc ${source}: ${warnings}`);
  if (warnings) console.error(warnings);
  return binary;
}

/** Keeps the first lines a process writes to a pipe, and drains the rest so the pipe never fills. */
async function firstLines(stream: ReadableStream<Uint8Array>): Promise<string> {
  const KEEP = 2048;
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    if (text.length < KEEP) text += chunk.slice(0, KEEP - text.length);
  }
  return text;
}

interface Running {
  server: Server;
  port: number;
  child: Deno.ChildProcess;
}

async function start(server: Server): Promise<Running | string> {
  if (server.missing) return server.missing;
  const port = freeUdpPort();
  const child = new Deno.Command(server.command, {
    args: server.args(port),
    // NO_COLOR: a refusal's first line is quoted as the skip reason, without escape codes.
    env: { NO_COLOR: "1", ...server.env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = firstLines(child.stderr);
  const outcome = await Promise.race([
    waitForCoap(port).then(() => "up" as const, () => "silent" as const),
    child.status,
  ]);
  if (outcome === "up") return { server, port, child };
  if (outcome === "silent") {
    child.kill("SIGKILL");
    await child.status;
    return "did not answer CoAP within 5 s";
  }
  // Its first sentence: "error: Unknown option '--udp'" from a serve without the flag.
  const said = (await stderr).trim().split("\n")[0].split(". ")[0].slice(0, 100);
  return `exited with code ${outcome.code}${said ? `: ${said}` : ""}`;
}

async function stop(running: Running): Promise<void> {
  running.child.kill("SIGTERM");
  await running.child.status;
}

interface Load {
  requests: number;
  rps: number;
  p50_us: number;
  p99_us: number;
  lost: number;
  errors: number;
  stray: number;
  /** Requests handed to the kernel, warm-up included. */
  sent: number;
}

async function load(
  loadgen: string,
  running: Running,
  options: { clientPorts: number; duration: number },
): Promise<Load> {
  const child = new Deno.Command(loadgen, {
    args: [
      "-p",
      `${options.clientPorts}`,
      "-w",
      `${warmup}`,
      "127.0.0.1",
      `${running.port}`,
      running.server.path,
      `${inflight}`,
      `${options.duration}`,
    ],
    stdout: "piped",
  }).spawn();
  // The generator stops itself; this only bounds a run whose generator hangs.
  const timer = setTimeout(() => child.kill("SIGKILL"), (warmup + options.duration + 10) * 1000);
  const output = await child.output();
  clearTimeout(timer);
  if (!output.success) throw new Error(`loadgen against ${running.server.name} failed (${output.code})`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return Math.round(kb / 102.4) / 10;
}

const loadgen = await compile("loadgen.c", "loadgen");
await compile("udp_echo.c", "udp_echo");

const started = await Promise.all(servers.map(start));
const best = new Map<string, Load>();
const keepBest = (key: string, result: Load) => {
  const previous = best.get(key);
  if (!previous || result.rps > previous.rps) best.set(key, result);
};
for (let round = 0; round < rounds; round++) {
  for (const running of started) {
    if (typeof running === "string") continue;
    const { server } = running;
    keepBest(server.id, await load(loadgen, running, { clientPorts: server.clientPorts, duration: seconds }));
    if (server.manyPorts) {
      keepBest(
        `${server.id}@${MANY_PORTS}`,
        await load(loadgen, running, { clientPorts: MANY_PORTS, duration: seconds }),
      );
    }
  }
}
for (const running of started) if (typeof running !== "string") await stop(running);

interface MemoryRow {
  id: string;
  name: string;
  client_ports: number;
  requests?: number;
  /** Client ports that sent at least one request. */
  ports_used?: number;
  idle_rss_mb?: number;
  peak_rss_mb?: number;
  ratio?: number | null;
  skipped?: string;
}
// A fresh process per server, requests rotating over MEMORY_PORTS client ports.
const memory: MemoryRow[] = [];
for (const server of [...servers.filter((s) => s.memory), ...memoryOnly]) {
  const row = { id: server.id, name: server.name, client_ports: MEMORY_PORTS };
  const running = await start(server);
  if (typeof running === "string") {
    memory.push({ ...row, skipped: running });
    continue;
  }
  const idle = memoryMb(running.child.pid, "VmRSS");
  const result = await load(loadgen, running, { clientPorts: MEMORY_PORTS, duration: MEMORY_SECONDS });
  memory.push({
    ...row,
    requests: result.requests,
    ports_used: Math.min(result.sent, MEMORY_PORTS),
    idle_rss_mb: idle,
    peak_rss_mb: memoryMb(running.child.pid, "VmHWM"),
  });
  await stop(running);
}
const referencePeak = memory.find((m) => m.id === reference.id)?.peak_rss_mb;
for (const m of memory) if (m.peak_rss_mb) m.ratio = referencePeak ? referencePeak / m.peak_rss_mb : null;

interface LoadRow extends Partial<Load> {
  id: string;
  name: string;
  client_ports: number;
  ratio?: number | null;
  /** On the C echo's row: its rate over the fastest server's. */
  ceiling_ratio?: number;
  skipped?: string;
}
function loadRows(manyPorts: boolean): LoadRow[] {
  const key = (id: string) => manyPorts ? `${id}@${MANY_PORTS}` : id;
  const ours = best.get(key(reference!.id))?.rps;
  return started.flatMap((running, i): LoadRow[] => {
    const server = servers[i];
    if (manyPorts && !server.manyPorts) return [];
    const row = {
      id: server.id,
      name: server.name,
      client_ports: manyPorts ? MANY_PORTS : server.clientPorts,
    };
    const result = best.get(key(server.id));
    if (!result) return [{ ...row, skipped: running as string }];
    return [{ ...row, ...result, ratio: ours ? ours / result.rps : null }];
  });
}
const mainRows = loadRows(false);
const manyPortRows = loadRows(true);

// The generator's margin: the C echo's rate over the fastest server's, in the same run.
const ceilingRow = mainRows.find((row) => row.id === CEILING);
const fastest = mainRows.filter((row) => row.id !== CEILING && row.rps)
  .sort((a, b) => b.rps! - a.rps!)[0];
const ceilingRatio = ceilingRow?.rps && fastest ? ceilingRow.rps / fastest.rps! : undefined;
if (ceilingRow && ceilingRatio) ceilingRow.ceiling_ratio = ceilingRatio;

if (values.json) {
  console.log(JSON.stringify([...mainRows, ...manyPortRows, ...memory]));
} else {
  const ratioHead = `ratio = ${reference.name} ÷ row`;
  const table = (title: string, rows: LoadRow[]) => {
    console.log(`\n${title}`);
    console.log(
      `${"server".padEnd(42)} ${"requests/s".padStart(10)} ${"p50 µs".padStart(7)} ${"p99 µs".padStart(7)} ${
        "lost".padStart(5)
      } ${"≠2.05".padStart(5)} ${"ratio".padStart(7)}`,
    );
    for (const row of rows) {
      if (row.skipped) {
        console.log(`${row.name.padEnd(42)} skipped: ${row.skipped}`);
        continue;
      }
      const ratio = row.ratio ? `${row.ratio.toFixed(2)}×` : "—";
      console.log(
        `${row.name.padEnd(42)} ${row.rps!.toLocaleString("en").padStart(10)} ${
          String(row.p50_us).padStart(7)
        } ${String(row.p99_us).padStart(7)} ${String(row.lost).padStart(5)} ${
          String(row.errors).padStart(5)
        } ${ratio.padStart(7)}`,
      );
    }
  };
  console.log(
    `${inflight} CON GETs in flight, ${warmup} s warm-up, best of ${rounds} alternating rounds of ${seconds} s; ${ratioHead}`,
  );
  if (!best.has(reference.id)) {
    console.log(`(${reference.id} did not run, so no ratios; --ratio-to ID picks another reference row)`);
  }
  table("1 client port (the --workers row: 8)", mainRows);
  if (ceilingRatio && fastest) {
    console.log(
      `generator ceiling: the C echo's rate is ${
        ceilingRatio.toFixed(1)
      }× the fastest server's (${fastest.name})${
        ceilingRatio < CEILING_MARGIN
          ? ` — under ${CEILING_MARGIN}×: the generator may cap the fastest rows`
          : ""
      }`,
    );
  }
  table(`${MANY_PORTS.toLocaleString("en")} client ports, requests rotating over them`, manyPortRows);
  console.log(
    `\nmemory after ${MEMORY_SECONDS} s of requests from ${
      MEMORY_PORTS.toLocaleString("en")
    } client ports (fresh process)`,
  );
  for (const row of memory) {
    const ratio = row.ratio ? `, ratio ${row.ratio.toFixed(2)}×` : "";
    console.log(
      row.skipped
        ? `${row.name.padEnd(42)} skipped: ${row.skipped}`
        : `${
          row.name.padEnd(42)
        } idle ${row.idle_rss_mb} MB, peak ${row.peak_rss_mb} MB (${row.requests} answered, ${row.ports_used} ports used${ratio})`,
    );
  }
  console.log(
    "lost: requests unanswered for 1 s (replaced by fresh ones); ≠2.05: answers that were not 2.05",
  );
}
