/**
 * Traces as a two-column sequence diagram for the terminal: this endpoint on
 * one side, its peer on the other, one arrow per datagram with type, code,
 * Message ID and token on it, the main options and payload beside it, and
 * notes where the protocol did something worth seeing.
 * @module
 */
import { codeName, codeString } from "../message/code.ts";
import type { Message } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { blockSize, decodeBlock, decodeUint, isUtf8 } from "../message/option_value.ts";
import { contentFormatName, contentFormatShortName } from "../message/content_format.ts";
import { typeName } from "../message/type.ts";
import type { TraceEvent } from "../endpoint/trace.ts";
import { type Address, addressKey } from "../transport/transport.ts";
import { bytesToHex } from "./hex.ts";
import { hex16, TraceNotes } from "./trace_notes.ts";
import { printable } from "./printable.ts";
import { columns, fitColumns, TRACE_COLUMNS } from "./trace_line.ts";
import { inWireOrder } from "./trace_json.ts";

/** Width of the arrow between the two columns, in characters: wide, and to fit TRACE_COLUMNS. */
const ARROW_WIDTH = { wide: 56, fitted: 46 };
const TIME_WIDTH = 9;
/** Characters of a payload shown beside the arrow. */
const PREVIEW = { wide: 24, fitted: 12 };
// Shows a leading U+FEFF of a Uri-Path segment, which is part of the path (see decodeString).
const pathText = new TextDecoder("utf-8", { ignoreBOM: true });

/** A traced datagram, plus what a simulated link did to it. */
export type DiagramEvent = TraceEvent & {
  /** The link dropped it (known in simulations only): the arrow ends in ✗. */
  lost?: boolean;
};

/** How to lay out a diagram. */
export interface DiagramOptions {
  /** Heading of the left column, e.g. "client [::]:53124". */
  left: string;
  /** Heading of the right column, e.g. "server 127.0.0.1:5683". */
  right: string;
  /** Which column this endpoint is: "left" for a client, "right" for a server. */
  local: "left" | "right";
  /** The peer the headings name; datagrams to or from any other peer show its address. */
  peer?: Address;
  /**
   * Rows as long as their details make them. By default a row fits TRACE_COLUMNS (100): a narrower
   * arrow, short Content-Format names ("ct text"), shorter previews and, past that, "…".
   */
  wide?: boolean;
}

/**
 * Draws traced datagrams as rows of a sequence diagram. Keeps the time of the
 * first event and what TraceNotes needs, so rows must come in order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * import { SequenceDiagram } from "./sequence_diagram.ts";
 * const diagram = new SequenceDiagram({ left: "client", right: "server", local: "left" });
 * const lines = [diagram.header()];
 * const server = new CoapServer(new Site().add("temperature", { get: () => "22.5" }), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const client = new CoapClient({ onTrace: (event) => lines.push(diagram.row(event)) });
 * await client.get(`coap://127.0.0.1:${server.address.port}/temperature`);
 * client.close();
 * server.close();
 * assert.match(lines[1], /CON 0\.01 GET/);
 * assert.match(lines[2], /ACK 2\.05 Content/);
 * ```
 */
export class SequenceDiagram {
  readonly #options: DiagramOptions;
  readonly #notes = new TraceNotes();
  #start: number | undefined;

  constructor(options: DiagramOptions) {
    this.#options = options;
  }

  /** The column headings. */
  header(): string {
    const { left, right } = this.#options;
    const gap = Math.max(1, this.#arrowWidth + 2 - left.length - right.length);
    return `${"time".padStart(TIME_WIDTH)}  ${left}${" ".repeat(gap)}${right}`;
  }

  /**
   * One row: time, arrow with its label, then options, payload and notes. Fitted to TRACE_COLUMNS (not
   * `wide`), a row too long for its notes puts them on a second line under its arrow, since they are the
   * lesson of the row; the options and payload are cut short with "…".
   */
  row(event: DiagramEvent): string {
    this.#start ??= event.at;
    const time = `${((event.at - this.#start) / 1000).toFixed(3)} s`.padStart(TIME_WIDTH);
    const rightward = (event.direction === "out") === (this.#options.local === "left");
    const label = event.message === undefined
      ? `malformed, ${event.bytes.length} bytes`
      : arrowLabel(event.message);
    const arrow = drawArrow(label, this.#arrowWidth, {
      rightward,
      lost: event.lost === true,
      retransmitted: (event.retransmission ?? 0) > 0,
    });
    const details: string[] = [];
    const { peer, wide } = this.#options;
    if (peer === undefined || addressKey(peer) !== addressKey(event.peer)) {
      details.push(addressKey(event.peer));
    }
    if (event.message !== undefined) {
      details.push(...describe(inWireOrder(event.message), wide === true));
    }
    const notes = this.#notes.annotate(event);
    if (event.lost) notes.push("lost on the link");
    const noted = notes.length > 0 ? [...details, `‹${notes.join("; ")}›`] : details;
    const row = `${time}  │${arrow}│  ${noted.join("  ")}`.trimEnd();
    if (wide || columns(row) <= TRACE_COLUMNS) return row;
    const main = fitColumns(`${time}  │${arrow}│  ${details.join("  ")}`.trimEnd(), TRACE_COLUMNS);
    if (notes.length === 0) return main;
    // From the left column's line, over where the arrow was: the notes get that width besides their own.
    const under = `${" ".repeat(TIME_WIDTH)}  │  ${noted.at(-1)}`;
    return `${main}\n${fitColumns(under, TRACE_COLUMNS)}`;
  }

  get #arrowWidth(): number {
    return this.#options.wide ? ARROW_WIDTH.wide : ARROW_WIDTH.fitted;
  }
}

/** "CON 0.01 GET  MID 0x1a2b  tok 9f3c1a22", the words on an arrow. */
function arrowLabel(m: Message): string {
  const code = m.code === 0 ? "Empty" : `${codeString(m.code)} ${codeName(m.code)}`;
  const token = m.token.length > 0 ? `  tok ${bytesToHex(m.token)}` : "";
  return `${typeName(m.type)} ${code}  MID 0x${hex16(m.messageId)}${token}`;
}

/** An arrow of `width` characters (longer if the label needs it), the label near its tail. */
function drawArrow(
  label: string,
  width: number,
  { rightward, lost, retransmitted }: { rightward: boolean; lost: boolean; retransmitted: boolean },
): string {
  // A retransmission is drawn dashed, so a burst of them stands out from first transmissions.
  const line = retransmitted ? "┄" : "─";
  const head = lost ? "✗" : rightward ? "▶" : "◀";
  const fill = Math.max(2, width - label.length - 5);
  return rightward
    ? `${line} ${label} ${line.repeat(fill)}${head} `
    : ` ${head}${line.repeat(fill)} ${label} ${line}`;
}

/** Uri-Path, Observe, Block1/2, Content-Format and a payload preview, compactly (more so unless `wide`). */
function describe(m: Message, wide: boolean): string[] {
  const parts: string[] = [];
  const path = m.options.filter((o) => o.number === OptionNumber.UriPath);
  if (path.length > 0) parts.push(printable(`/${path.map((o) => pathText.decode(o.value)).join("/")}`));
  for (const { number, value } of m.options) {
    if (number === OptionNumber.Observe) parts.push(`Observe ${decodeUint(value)}`);
    if (number === OptionNumber.Block1 || number === OptionNumber.Block2) {
      // NUM/M/size, the notation of RFC 7959's examples.
      const block = decodeBlock(value);
      const name = number === OptionNumber.Block1 ? "Block1" : "Block2";
      parts.push(`${name} ${block.num}/${block.more ? 1 : 0}/${blockSize(block.szx)}`);
    }
    if (number === OptionNumber.ContentFormat) {
      const format = decodeUint(value);
      parts.push(`ct ${(wide ? contentFormatName(format) : contentFormatShortName(format)) ?? format}`);
    }
  }
  if (m.payload.length > 0) {
    if (isUtf8(m.payload)) {
      const text = new TextDecoder().decode(m.payload);
      const length = wide ? PREVIEW.wide : PREVIEW.fitted;
      const preview = text.length > length ? `${text.slice(0, length)}…` : text;
      parts.push(
        `${printable(JSON.stringify(preview))}${text.length > length ? ` (${m.payload.length} B)` : ""}`,
      );
    } else {
      parts.push(`${m.payload.length} B binary`);
    }
  }
  return parts;
}
