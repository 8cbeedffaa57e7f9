/** The writers behind --trace, --trace-json FILE, --pcap FILE and --verbose (trace_flags.ts loads them). */
import type { TraceEvent } from "../endpoint/trace.ts";
import { PcapCapture, pcapFileHeader } from "../tools/pcap.ts";
import { SequenceDiagram } from "../tools/sequence_diagram.ts";
import { traceToJson } from "../tools/trace_json.ts";
import { TraceNotes } from "../tools/trace_notes.ts";
import { formatTraceLine } from "../tools/trace_line.ts";
import { type Address, addressKey, type Datagram } from "../transport/transport.ts";
import { describeDatagram } from "../dtls/records.ts";
import { forTerminal } from "./terminal_output.ts";
import type { TraceFlags, TraceOutputs } from "./trace_flags.ts";
import { UsageError } from "./usage_error.ts";

/**
 * The outputs the trace flags ask for, fed by an endpoint's onTrace. Files are
 * written synchronously, datagram by datagram, so a capture is complete up to
 * the moment a server is stopped.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * import { TraceWriters } from "./trace_outputs.ts";
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * const traces = new TraceWriters({ "trace-json": path }, "client");
 * const server = new CoapServer(new Site().add("temperature", { get: () => "22.5" }), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const client = new CoapClient({ onTrace: traces.onTrace });
 * await client.get(`coap://127.0.0.1:${server.address.port}/temperature`);
 * client.close();
 * server.close();
 * traces.close();
 * const lines = (await Deno.readTextFile(path)).trim().split("\n").map((line) => JSON.parse(line));
 * assert.deepEqual(lines.map((line) => line.direction), ["out", "in"]);
 * await Deno.remove(path);
 * ```
 */
export class TraceWriters implements TraceOutputs {
  /** For EndpointOptions.onTrace; undefined when no flag asks for anything. */
  readonly onTrace?: (event: TraceEvent) => void;
  /**
   * For a DTLS transport's onDatagram: with `encrypted`, --pcap captures these datagrams (what crossed the
   * network) instead of the CoAP messages inside; --trace and --verbose show their records.
   */
  readonly onDatagram?: (direction: "in" | "out", datagram: Datagram, local: Address) => void;
  /** For handshake and session lines: set when --trace or --verbose is given. */
  readonly show?: (line: string) => void;
  readonly #files: Deno.FsFile[] = [];

  /** `role` says which column this endpoint takes in the diagram: a client left, a server right. */
  constructor(values: TraceFlags, role: "client" | "server", { encrypted = false } = {}) {
    const sinks: ((event: TraceEvent) => void)[] = [];
    const datagramSinks: ((direction: "in" | "out", datagram: Datagram, local: Address) => void)[] = [];
    let start: number | undefined;
    // Payload previews and options come from the peer: escaped when stderr is a terminal.
    const show = (line: string) => console.error(forTerminal(line, Deno.stderr));
    if (values.trace || values.verbose) {
      this.show = show;
      datagramSinks.push((direction, { data, address }) =>
        show(
          `DTLS ${direction === "out" ? "→" : "←"} ${addressKey(address)} ${
            describeDatagram(data)
          } (${data.length} B)`,
        )
      );
    }
    if (values.verbose) sinks.push((event) => show(formatTraceLine(event, start!)));
    if (values.trace) {
      let diagram: SequenceDiagram | undefined;
      sinks.push((event) => {
        if (diagram === undefined) {
          // The headings name the addresses, known once the first datagram has crossed.
          diagram = role === "client"
            ? new SequenceDiagram({
              left: `client ${addressKey(event.local)}`,
              right: `server ${addressKey(event.peer)}`,
              local: "left",
              peer: event.peer,
              wide: values.wide,
            })
            : new SequenceDiagram({
              left: "peer",
              right: `server ${addressKey(event.local)}`,
              local: "right",
              wide: values.wide,
            });
          show(diagram.header());
        }
        show(diagram.row(event));
      });
    }
    if (values["trace-json"] !== undefined) {
      const file = this.#open("trace-json", values["trace-json"]);
      const notes = new TraceNotes();
      const encoder = new TextEncoder();
      sinks.push((event) => {
        writeAll(
          file,
          encoder.encode(JSON.stringify(traceToJson(event, start!, notes.annotate(event))) + "\n"),
        );
      });
    }
    if (values.pcap !== undefined) {
      const file = this.#open("pcap", values.pcap);
      writeAll(file, pcapFileHeader());
      const capture = new PcapCapture();
      if (encrypted) {
        datagramSinks.push((direction, { data, address }, local) =>
          writeAll(file, capture.record({ direction, at: 0, peer: address, local, bytes: data }, Date.now()))
        );
      } else {
        // The real clock is performance.now(), so the origin makes it wall-clock time.
        sinks.push((event) => writeAll(file, capture.record(event, performance.timeOrigin + event.at)));
      }
    }
    if (sinks.length > 0) {
      this.onTrace = (event) => {
        start ??= event.at;
        for (const sink of sinks) sink(event);
      };
    }
    if (encrypted && datagramSinks.length > 0) {
      this.onDatagram = (direction, datagram, local) => {
        for (const sink of datagramSinks) sink(direction, datagram, local);
      };
    }
  }

  /** Closes the files. */
  close(): void {
    for (const file of this.#files.splice(0)) file.close();
  }

  #open(flag: string, path: string): Deno.FsFile {
    try {
      const file = Deno.openSync(path, { write: true, create: true, truncate: true });
      this.#files.push(file);
      return file;
    } catch (error) {
      this.close();
      throw new UsageError(`--${flag} ${path}: ${(error as Error).message}`);
    }
  }
}

/** writeSync may write less than asked; a capture with a torn record is unreadable. */
function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += file.writeSync(bytes.subarray(written));
}
