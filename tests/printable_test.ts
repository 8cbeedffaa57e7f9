// Peer-controlled text in log and trace lines (issue 11): printable() escapes what could break a line, recolour
// a terminal or reorder what it shows, and every line that quotes a peer goes through it.
import assert from "node:assert/strict";
import {
  CoapError,
  CoapServer,
  Code,
  decode,
  encode,
  encodeString,
  OptionNumber,
  Site,
  type TraceEvent,
  Type,
} from "../src/mod.ts";
import { printable } from "../src/tools/printable.ts";
import { formatTraceLine } from "../src/tools/trace_line.ts";
import { SequenceDiagram } from "../src/tools/sequence_diagram.ts";
import { annotate } from "../src/tools/annotate.ts";
import { describeOptionValue } from "../src/tools/describe_option.ts";
import { requestLogLine } from "../src/cli/server_log.ts";
import { runCli } from "./_cli.ts";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const escaped = (code: number) => `\\u{${code.toString(16)}}`;

/** Every character the escaping is for. */
const UNSAFE = [
  ...range(0x00, 0x1f), // C0
  0x7f, // DEL
  ...range(0x80, 0x9f), // C1 (U+009B is CSI on many terminals)
  0x2028, // LINE SEPARATOR
  0x2029, // PARAGRAPH SEPARATOR
  ...range(0x202a, 0x202e), // LRE, RLE, PDF, LRO, RLO
  ...range(0x2066, 0x2069), // LRI, RLI, FSI, PDI
  0x200e, // LRM
  0x200f, // RLM
  0x061c, // ARABIC LETTER MARK
  0xfeff, // ZERO WIDTH NO-BREAK SPACE (BOM)
];

/** A hostile string: a fake log line after a newline, an ANSI colour, a CSI, a right-to-left override. */
const HOSTILE = "led\n12:00:00.000 10.0.0.9:1 CON PUT /admin → 2.04\x1b[31m\x9b2J\u202etxt.exe\u2028";

/** Whether a line holds any character printable() escapes. */
const unsafe = (line: string) => [...line].some((char) => UNSAFE.includes(char.charCodeAt(0)));

Deno.test("printable escapes every C0/C1 control, U+2028/2029, bidi control and U+FEFF as \\u{…}", () => {
  for (const code of UNSAFE) {
    const char = String.fromCharCode(code);
    assert.equal(printable(`a${char}b`), `a${escaped(code)}b`, `U+${code.toString(16)}`);
  }
});

Deno.test("printable leaves other text alone: ASCII, accents, CJK, emoji, and characters next to the escaped ones", () => {
  const text = "GET /température 温度 🌡 ~ \u00a0 \u00ad \u2027 \u202f \u2065 \u206a \ufefe \ufffd";
  assert.equal(printable(text), text);
  assert.equal(printable(""), "");
  // Idempotent: an escape is itself printable, so escaping twice changes nothing more.
  assert.equal(printable(printable(HOSTILE)), printable(HOSTILE));
});

Deno.test("the serve log line escapes what it quotes and stays one line", () => {
  const line = requestLogLine(
    {
      peer: { hostname: "10.0.0.2", port: 40000 },
      type: "CON",
      method: "PUT",
      path: HOSTILE,
      code: "2.04",
      codeName: "Changed",
      payloadBytes: 2,
      elapsed: 1,
      separate: false,
    },
    new Date("2024-05-01T12:00:00.000Z"),
  );
  assert.ok(!unsafe(line), line);
  assert.match(
    line,
    /^12:00:00\.000 10\.0\.0\.2:40000 CON PUT led\\u\{a\}12:00:00\.000 .*\\u\{1b\}\[31m\\u\{9b\}2J\\u\{202e\}txt\.exe\\u\{2028\} → 2\.04 Changed/,
  );
});

/** A traced datagram from a peer: PUT with HOSTILE as Uri-Path and Uri-Query, and as payload. */
function hostileEvent(): TraceEvent {
  const bytes = encode({
    type: Type.CON,
    code: Code.Put,
    messageId: 1,
    token: Uint8Array.of(1),
    options: [
      { number: OptionNumber.UriPath, value: encodeString(HOSTILE) },
      { number: OptionNumber.UriQuery, value: encodeString(HOSTILE) },
    ],
    payload: encodeString("\u202e" + HOSTILE.slice(0, 30)),
  });
  return {
    direction: "in",
    at: 0,
    peer: { hostname: "10.0.0.2", port: 40000 },
    local: { hostname: "10.0.0.1", port: 5683 },
    bytes,
    message: decode(bytes),
  };
}

Deno.test("--verbose trace lines, --trace diagram rows and decode's annotations escape paths, queries and payloads", () => {
  const event = hostileEvent();
  const verbose = formatTraceLine(event, 0);
  assert.ok(!unsafe(verbose), verbose);
  assert.match(
    verbose,
    /Uri-Path: "led\\n12:00/,
    "JSON quoting escapes \\n itself; printable leaves that alone",
  );
  assert.match(verbose, /\\u\{202e\}txt\.exe\\u\{2028\}/);
  assert.match(verbose, /payload "\\u\{202e\}led/);
  const row = new SequenceDiagram({ left: "peer", right: "server", local: "right" }).row(event);
  assert.ok(!unsafe(row), row);
  assert.match(row, /\/led\\u\{a\}12:00/);
  for (const line of annotate(event.bytes)) assert.ok(!unsafe(line), line);
  assert.equal(
    describeOptionValue(OptionNumber.UriPath, encodeString("\ufeffled")),
    '"\\u{feff}led"',
    "a leading U+FEFF is shown, not hidden",
  );
});

Deno.test("the CLI escapes a 4.xx diagnostic payload and discover's cells, and prints a 2.05 representation as it is", async () => {
  const site = new Site()
    .add("bad", {
      title: HOSTILE,
      get: () => {
        throw new CoapError(Code.BadRequest, HOSTILE);
      },
    })
    .add("text", { get: () => "line 1\nline 2" });
  // The whole hostile diagnostic, which amplification control would cut for a small request.
  const server = new CoapServer(site, {
    hostname: "127.0.0.1",
    port: 0,
    amplification: { factor: Infinity },
  });
  const base = `coap://127.0.0.1:${server.address.port}`;
  try {
    const bad = await runCli(["get", "--verbose", `${base}/bad`]);
    assert.equal(bad.code, 1);
    // Piped, a 4.xx's diagnostic payload goes to stderr with its code line, escaped like the trace lines.
    assert.equal(bad.stdout, "");
    assert.ok(bad.stderr.endsWith(`4.00 Bad Request\n${printable(HOSTILE)}\n`), bad.stderr);
    assert.ok(!unsafe(bad.stderr.replaceAll("\n", "")), bad.stderr);
    assert.equal((await runCli(["get", `${base}/text`])).stdout, "line 1\nline 2");
    const table = await runCli(["discover", base]);
    assert.equal(table.code, 0);
    assert.ok(table.stdout.includes(printable(HOSTILE)), table.stdout);
    assert.ok(!unsafe(table.stdout.replaceAll("\n", "")), table.stdout);
  } finally {
    server.close();
  }
});
