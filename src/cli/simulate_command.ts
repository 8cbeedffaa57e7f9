/** `simulate observe …`: the lab's Observe timeline, run by the real client and server in virtual time. */
import { SequenceDiagram } from "../tools/sequence_diagram.ts";
import {
  SIMULATED_CLIENT,
  SIMULATED_SERVER,
  simulateObserve,
  type SimulationSummary,
} from "../tools/simulation.ts";
import { traceToJson } from "../tools/trace_json.ts";
import { TraceNotes } from "../tools/trace_notes.ts";
import { addressKey } from "../transport/transport.ts";
import { integerFlag, secondsFlag } from "./flag_values.ts";
import { parseFlags } from "./parse_flags.ts";
import { EXIT_OK, UsageError } from "./usage_error.ts";

/** Usage text of `simulate`. */
export const SIMULATE_USAGE = `simulate observe [--interval S] [--count N] [--con-every K] [--loss P]
    [--seed X] [--json]
  An Observe timeline over a lossy in-memory link in virtual time, run by the real client and
  server (defaults: 2 s, 10, 5, 0, 1).
  example:
    simulate observe --loss 0.25 --seed 5`;

/** Runs `simulate`; returns the exit code. */
export async function simulateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    interval: { type: "string", default: "2" },
    count: { type: "string", default: "10" },
    "con-every": { type: "string", default: "5" },
    loss: { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    json: { type: "boolean" },
  });
  if (positionals.length !== 1 || positionals[0] !== "observe") {
    throw new UsageError(`expected "simulate observe"\nusage: ${SIMULATE_USAGE}`);
  }
  const count = integerFlag("count", values.count, 100_000);
  if (count === 0) throw new UsageError("--count 0: expected at least one notification");
  const loss = Number(values.loss);
  if (values.loss.trim() === "" || !(loss >= 0 && loss <= 1)) {
    throw new UsageError(`--loss ${values.loss}: expected a probability from 0 to 1`);
  }
  const { events, summary } = await simulateObserve({
    interval: secondsFlag("interval", values.interval),
    count,
    conEvery: integerFlag("con-every", values["con-every"], 1_000_000),
    loss,
    seed: integerFlag("seed", values.seed, 0xffffffff),
  });
  if (values.json) {
    const notes = new TraceNotes();
    const start = events[0]?.at ?? 0;
    const json = events.map((event) => ({
      sender: event.sender,
      lost: event.lost === true,
      ...traceToJson(event, start, notes.annotate(event)),
    }));
    console.log(JSON.stringify({ events: json, summary }, null, 2));
    return EXIT_OK;
  }
  const diagram = new SequenceDiagram({
    left: `client ${addressKey(SIMULATED_CLIENT)}`,
    right: `server ${addressKey(SIMULATED_SERVER)}`,
    local: "left",
    peer: SIMULATED_SERVER,
  });
  console.log(diagram.header());
  for (const event of events) console.log(diagram.row(event));
  console.log(summaryLine(summary));
  return EXIT_OK;
}

/** The counts, in lines that fit 100 columns as the diagram does. */
function summaryLine(s: SimulationSummary): string {
  if (!s.registered) {
    return `registration failed: no response after ${s.retransmissions} retransmissions; ` +
      `${s.datagrams} datagrams, ${s.dropped} lost on the link`;
  }
  return `notifications: ${s.sent} sent, ${s.delivered} delivered, ${s.lost} lost  ·  ` +
    `${s.confirmable} CON, ${s.nonConfirmable} NON\n` +
    `link: ${s.retransmissions} retransmissions  ·  ${s.datagrams} datagrams, ${s.dropped} lost on the link  ·  ${
      (s.duration / 1000).toFixed(3)
    } s virtual`;
}
