/** --trace, --trace-json FILE, --pcap FILE and --verbose: where the commands send the datagrams they see. */
import type { TraceEvent } from "../endpoint/trace.ts";
import type { Address, Datagram } from "../transport/transport.ts";

/** The flags, for parseFlags. */
export const TRACE_FLAGS = {
  trace: { type: "boolean" },
  "trace-json": { type: "string" },
  pcap: { type: "string" },
  verbose: { type: "boolean" },
  wide: { type: "boolean" },
} as const;

/** Their usage text. */
export const TRACE_USAGE = `--trace (a sequence diagram on stderr; --wide: rows past 100 columns)
    --verbose (a line a datagram)  --trace-json FILE (JSON lines)  --pcap FILE (for Wireshark)`;

/** The values parseFlags gives for TRACE_FLAGS. */
export type TraceFlags = {
  trace?: boolean;
  "trace-json"?: string;
  pcap?: string;
  verbose?: boolean;
  /** Trace rows (and observe's lines) at full length instead of fitting 100 columns. */
  wide?: boolean;
};

/** Where an endpoint's datagrams go when a trace flag is given (trace_outputs.ts). */
export interface TraceOutputs {
  /** For EndpointOptions.onTrace; undefined when no flag asks for anything. */
  readonly onTrace?: (event: TraceEvent) => void;
  /**
   * For a DTLS transport's onDatagram: with `encrypted`, --pcap captures these datagrams (what crossed the
   * network) instead of the CoAP messages inside; --trace and --verbose show their records.
   */
  readonly onDatagram?: (direction: "in" | "out", datagram: Datagram, local: Address) => void;
  /** For handshake and session lines: set when --trace or --verbose is given. */
  readonly show?: (line: string) => void;
  /** Closes the files. */
  close(): void;
}

const NO_TRACES: TraceOutputs = { close() {} };

/**
 * The outputs `values` ask for. The diagram, JSON and pcap writers are imported only when a flag asks for
 * one, so a command without trace flags loads none of them (and a server stays smaller).
 * `role` says which column this endpoint takes in the diagram: a client left, a server right.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { traceOutputs } from "./trace_flags.ts";
 * const none = await traceOutputs({}, "client");
 * assert.equal(none.onTrace, undefined);
 * const verbose = await traceOutputs({ verbose: true }, "client");
 * assert.equal(typeof verbose.onTrace, "function");
 * ```
 */
export async function traceOutputs(
  values: TraceFlags,
  role: "client" | "server",
  options: { encrypted?: boolean } = {},
): Promise<TraceOutputs> {
  if (!values.trace && !values.verbose && values["trace-json"] === undefined && values.pcap === undefined) {
    return NO_TRACES;
  }
  const { TraceWriters } = await import("./trace_outputs.ts");
  return new TraceWriters(values, role, options);
}
