/**
 * bench:abuse — runs each attack of the issue against our demo server with
 * its defaults, and against libcoap's coap-server-notls where the attack
 * applies to it, each on a fresh server process; prints one row per attack
 * and server: bytes the attacker sent and got back, their ratio, peak and
 * after-attack memory, and whether valid GETs kept being answered within 1 s.
 * With --json one JSON array of the rows. Not a timed test: the two observer
 * attacks watch for --observe-seconds (130 by default, past the 120 s within
 * which a silent observer must be given up), and run against both servers at once.
 * @module
 */
import { parseArgs } from "node:util";
import {
  amplification,
  type AttackResult,
  observerMonopoly,
  silentObservers,
  slowFlood,
  unfinishedUploads,
} from "./abuse_attacks.ts";
import { type Running, start, type Target, TARGETS } from "./abuse_targets.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    "observe-seconds": { type: "string", default: "130" },
    /** Run only these attacks (repeatable): silent-observers, silent-observer, amplification, slow, uploads, monopoly. */
    only: { type: "string", multiple: true },
  },
});
const runs = (name: string) => values.only === undefined || values.only.includes(name);
const observeSeconds = Number(values["observe-seconds"]);
const targets = TARGETS.filter((target) => target.missing === undefined);
for (const target of TARGETS) if (target.missing) console.error(`${target.name}: skipped, ${target.missing}`);

/** Runs `attack` on a fresh process of each target that has what it needs, all at once. */
async function onEach(
  applies: (target: Target) => boolean,
  attack: (running: Running) => Promise<AttackResult>,
): Promise<AttackResult[]> {
  return await Promise.all(
    targets.filter(applies).map(async (target) => {
      const running = await start(target);
      try {
        return await attack(running);
      } finally {
        await running.stop();
      }
    }),
  );
}

const rows: AttackResult[] = [];
const always = () => true;
if (runs("silent-observers")) {
  rows.push(...await onEach(always, (r) => silentObservers(r, 64, observeSeconds)));
}
if (runs("silent-observer")) rows.push(...await onEach(always, (r) => silentObservers(r, 1, observeSeconds)));
for (const target of targets) {
  const only = (t: Target) => t === target;
  if (runs("amplification")) rows.push(...await onEach(only, amplification));
  if (runs("slow")) rows.push(...await onEach((t) => only(t) && t.paths.slow !== undefined, slowFlood));
  if (runs("uploads")) {
    rows.push(...await onEach((t) => only(t) && t.paths.upload !== undefined, unfinishedUploads));
  }
  if (runs("monopoly")) rows.push(...await onEach(only, observerMonopoly));
}

if (values.json) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const header = [
    "attack",
    "server",
    "bytes in",
    "bytes out",
    "ratio",
    "peak MB",
    "after MB",
    "valid GETs",
    "note",
  ];
  const cells = rows.map((r) => [
    r.attack,
    r.server,
    r.bytesIn.toLocaleString("en"),
    r.bytesOut.toLocaleString("en"),
    `${r.ratio}×`,
    `${r.peakMb}`,
    `${r.afterMb}`,
    r.validAnswered,
    r.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((cell, i) => (i >= 2 && i <= 6 ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ");
  console.log(line(header));
  for (const c of cells) console.log(line(c));
}
