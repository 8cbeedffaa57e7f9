/**
 * bench:dtls — coaps:// (DTLS 1.2, PSK) against three servers in one run: ours
 * (bench/dtls_bench_server.ts in a child Deno process), libcoap's
 * coap-server-openssl and coap-server-gnutls. With our client transport for
 * each server: --rounds full handshakes (cookie exchange, fresh session store
 * each), --rounds resumed handshakes, requests/s with 32 CON GETs in flight
 * over one session for --seconds, and the server's RSS growth per established
 * session (--sessions of them, each its own client socket). Prints a table with
 * ratios ours÷peer and the lab chapter's claims beside the measurements; with
 * --json one JSON array of rows.
 * @module
 */
import { parseArgs } from "node:util";
import {
  type Address,
  CoapClient,
  type DtlsClientTransport,
  dtlsClientTransport,
  udpTransport,
} from "../src/mod.ts";
import { freeCoapsPortPair, hasCommand, waitForCoap } from "../tests/_peers.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    rounds: { type: "string", default: "20" },
    seconds: { type: "string", default: "3" },
    sessions: { type: "string", default: "500" },
    inflight: { type: "string", default: "32" },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const sessionCount = Number(values.sessions);
const inflight = Number(values.inflight);
const root = new URL("../", import.meta.url).pathname;
const SECRET = "secret";
const psk = { identity: "bench", key: new TextEncoder().encode(SECRET) };

interface Running {
  pid: number;
  port: number;
  /** Asks the server to collect garbage before a reading, where it can. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

interface Target {
  name: string;
  path: string;
  missing?: string;
  start(): Promise<Running>;
}

const OURS = "deno-coap (ours)";

async function startOurs(): Promise<Running> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", `${root}bench/dtls_bench_server.ts`, SECRET],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const nextLine = async (): Promise<any> => {
    while (!pending.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error("our server exited");
      pending += value;
    }
    const newline = pending.indexOf("\n");
    const line = pending.slice(0, newline);
    pending = pending.slice(newline + 1);
    return JSON.parse(line);
  };
  const writer = child.stdin.getWriter();
  const { port } = await nextLine();
  return {
    pid: child.pid,
    port,
    async settle() {
      await writer.write(new TextEncoder().encode("gc\n"));
      await nextLine();
    },
    async stop() {
      await writer.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await child.status;
      clearTimeout(timer);
      await lines.cancel().catch(() => {});
    },
  };
}

function libcoap(command: string): Target {
  return {
    name: `libcoap ${command}`,
    path: "time",
    missing: hasCommand(command) ? undefined : `${command} not installed (apt package libcoap3-bin)`,
    async start() {
      const port = freeCoapsPortPair() - 1; // coap:// here, coaps:// on port + 1
      const child = new Deno.Command(command, {
        args: ["-k", SECRET, "-p", `${port}`, "-A", "127.0.0.1"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitForCoap(port);
      return {
        pid: child.pid,
        port: port + 1,
        settle: () => Promise.resolve(),
        async stop() {
          try {
            child.kill("SIGTERM");
          } catch {
            // already gone
          }
          await child.status;
        },
      };
    },
  };
}

const targets: Target[] = [
  { name: OURS, path: "temperature", start: startOurs },
  libcoap("coap-server-openssl"),
  libcoap("coap-server-gnutls"),
];

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const distinct = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * A client transport that also counts round trips on the wire: each time a
 * datagram from the server follows one we sent, one round trip has passed.
 */
const transport = (sessions: Map<string, Uint8Array>): DtlsClientTransport & { wireTrips(): number } => {
  let trips = 0;
  let last: "in" | "out" | undefined;
  const t = dtlsClientTransport(udpTransport({ hostname: "127.0.0.1" }), {
    psk,
    sessions,
    handshakeTimeout: 5000,
    onDatagram(direction) {
      if (direction === "in" && last === "out") trips++;
      last = direction;
    },
  });
  t.listen(() => {});
  return Object.assign(t, { wireTrips: () => trips });
};

/** Connects, and reads the wire's round trips the moment the handshake is done. */
async function handshake(t: ReturnType<typeof transport>, address: Address) {
  const h = await t.connect(address);
  return { ...h, wire: t.wireTrips() };
}

interface Row {
  server: string;
  cipher: string;
  fullMs: number;
  fullMinMs: number;
  fullMaxMs: number;
  /** Round trips counted on the wire (server datagrams answering ours) before connect() resolved. */
  fullRoundTrips: number[];
  /** What Handshake.roundTrips said. */
  fullReportedRoundTrips: number[];
  resumedMs: number;
  resumedRoundTrips: number[];
  resumedReportedRoundTrips: number[];
  resumed: string;
  requestsPerSecond: number;
  requestErrors: number;
  sessions: number;
  kibPerSession: number;
  note: string;
  /** Ours ÷ this row: handshake time (below 1: ours is faster) and requests/s (above 1: ours is faster). */
  handshakeRatio?: number;
  throughputRatio?: number;
}

async function measure(target: Target, running: Running): Promise<Row> {
  const address: Address = { hostname: "127.0.0.1", port: running.port };
  const notes: string[] = [];

  // 1. Full handshakes: a fresh store and socket each time.
  const full: { ms: number; trips: number; reported: number }[] = [];
  let cipher = "";
  for (let i = 0; i < rounds; i++) {
    const t = transport(new Map());
    try {
      const h = await handshake(t, address);
      if (h.resumed) notes.push("a fresh store resumed?");
      cipher = h.cipher;
      full.push({ ms: h.milliseconds, trips: h.wire, reported: h.roundTrips });
    } finally {
      t.close();
    }
  }

  // 2. Resumption: prime a store once, then each round a new socket with that store.
  const store = new Map<string, Uint8Array>();
  const prime = transport(store);
  await prime.connect(address);
  prime.close();
  await new Promise((resolve) => setTimeout(resolve, 20)); // let close_notify land
  const resumedRuns: { ms: number; trips: number; reported: number; resumed: boolean }[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = transport(store);
    try {
      const h = await handshake(t, address);
      resumedRuns.push({ ms: h.milliseconds, trips: h.wire, reported: h.roundTrips, resumed: h.resumed });
    } finally {
      t.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const resumedCount = resumedRuns.filter((r) => r.resumed).length;

  // 3. Requests/s: one session, `inflight` loops of CON GETs.
  // NSTART (RFC 7252 §4.7) would allow one CON at a time to the server: raised, so 32 are really in flight.
  const client = new CoapClient({ dtls: { psk, sessions: new Map() }, parameters: { nstart: inflight } });
  const uri = `coaps://127.0.0.1:${running.port}/${target.path}`;
  let done = 0;
  let errors = 0;
  let elapsed = 0;
  try {
    await client.get(uri);
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(Array.from({ length: inflight }, async () => {
      while (performance.now() < deadline) {
        try {
          await client.get(uri);
          done++;
        } catch {
          errors++;
        }
      }
    }));
    elapsed = (performance.now() - started) / 1000;
  } finally {
    client.close();
  }

  // 4. Memory per established session.
  await running.settle();
  const before = rssKiB(running.pid);
  const open: DtlsClientTransport[] = [];
  let failed = 0;
  for (let i = 0; i < sessionCount; i += 50) {
    const batch = Array.from({ length: Math.min(50, sessionCount - i) }, () => transport(new Map()));
    open.push(...batch);
    const results = await Promise.allSettled(batch.map((t) => t.connect(address)));
    failed += results.filter((r) => r.status === "rejected").length;
  }
  await running.settle();
  const after = rssKiB(running.pid);
  for (const t of open) t.close();
  const established = sessionCount - failed;
  if (failed) notes.push(`${failed} of ${sessionCount} sessions failed`);
  if (errors) notes.push(`${errors} request errors`);

  return {
    server: target.name,
    cipher,
    fullMs: round(median(full.map((f) => f.ms))),
    fullMinMs: round(Math.min(...full.map((f) => f.ms))),
    fullMaxMs: round(Math.max(...full.map((f) => f.ms))),
    fullRoundTrips: distinct(full.map((f) => f.trips)),
    fullReportedRoundTrips: distinct(full.map((f) => f.reported)),
    resumedMs: round(median(resumedRuns.map((r) => r.ms))),
    resumedRoundTrips: distinct(resumedRuns.map((r) => r.trips)),
    resumedReportedRoundTrips: distinct(resumedRuns.map((r) => r.reported)),
    resumed: resumedCount === rounds ? "yes" : resumedCount === 0 ? "no" : `${resumedCount}/${rounds}`,
    requestsPerSecond: Math.round(done / elapsed),
    requestErrors: errors,
    sessions: established,
    kibPerSession: established > 0 ? round((after - before) / established) : NaN,
    note: notes.join("; "),
  };
}

const rows: Row[] = [];
const benchStarted = performance.now();
for (const target of targets) {
  if (target.missing) {
    console.error(`${target.name}: skipped, ${target.missing}`);
    continue;
  }
  const running = await target.start();
  try {
    rows.push(await measure(target, running));
  } finally {
    await running.stop();
  }
}
const ours = rows.find((r) => r.server === OURS);
for (const row of rows) {
  if (!ours) break;
  row.handshakeRatio = round(ours.fullMs / row.fullMs, 2);
  row.throughputRatio = round(ours.requestsPerSecond / row.requestsPerSecond, 2);
}

const trips = (t: number[]) => t.join("/");
if (values.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const header = [
    "server",
    "full ms (min-max)",
    "RTs (lib)",
    "hs ratio",
    "resumed ms",
    "RTs (lib)",
    "resumed",
    "req/s",
    "ratio",
    "KiB/session",
    "note",
  ];
  const cells = rows.map((r) => [
    r.server,
    `${r.fullMs} (${r.fullMinMs}-${r.fullMaxMs})`,
    `${trips(r.fullRoundTrips)} (${trips(r.fullReportedRoundTrips)})`,
    `${r.handshakeRatio ?? "-"}×`,
    `${r.resumedMs}`,
    `${trips(r.resumedRoundTrips)} (${trips(r.resumedReportedRoundTrips)})`,
    r.resumed,
    r.requestsPerSecond.toLocaleString("en"),
    `${r.throughputRatio ?? "-"}×`,
    `${r.kibPerSession} (${r.sessions})`,
    r.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((cell, i) => (i >= 1 && i <= 9 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ");
  console.log(line(header));
  for (const c of cells) console.log(line(c));
  console.log(
    `\n${rounds} handshakes each with our client over loopback; cipher ${rows[0]?.cipher ?? "?"}; ` +
      `hs ratio = our median full handshake ÷ that server's; req/s ratio = ours ÷ that server's ` +
      `(${inflight} CON GETs in flight, ${seconds} s); KiB/session = server RSS growth ÷ (sessions held).`,
  );
  console.log(
    "RTs = round trips counted on the wire until connect() resolved (cookie exchange included); " +
      "(lib) = what Handshake.roundTrips reported.",
  );
  console.log("\nThe lab chapter's claims beside the measurements (wire round trips):");
  for (const r of rows) {
    const fullTrips = Math.max(...r.fullRoundTrips);
    const resumedTrips = Math.max(...r.resumedRoundTrips);
    console.log(`  ${r.server}:`);
    console.log(
      `    full handshake: claim "6-8 roundtrips", "500-2000 ms"; measured ${
        trips(r.fullRoundTrips)
      } round trips, ` +
        `${r.fullMs} ms on loopback; at 100 ms RTT ≈ ${fullTrips * 100} ms`,
    );
    console.log(
      `    resumption:     claim "1 roundtrip"; measured ${trips(r.resumedRoundTrips)} round trips ` +
        `(resumed: ${r.resumed}), ${r.resumedMs} ms on loopback; at 100 ms RTT ≈ ${resumedTrips * 100} ms`,
    );
  }
  console.log(
    "  (On every server the cookie exchange (ClientHello → HelloVerifyRequest) is one of those round trips; " +
      "a full handshake's first request waits one more, a resumed one's goes with the client's Finished.)",
  );
  console.log(`\ntotal ${round((performance.now() - benchStarted) / 1000)} s`);
}
