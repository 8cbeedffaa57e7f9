// What the client commands print, and where: payload bytes alone on a piped stdout, payloads laid out by
// Content-Format on a terminal, Content-Format names, the block-wise progress line, traces that fit 100
// columns, and discover's links to elsewhere.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapResponse,
  CoapServer,
  Code,
  decode,
  encodeUint,
  getUintOption,
  type Message,
  observable,
  OptionNumber,
  Site,
  Type,
} from "../src/mod.ts";
import { contentFormatFlag } from "../src/cli/flag_values.ts";
import { ProgressLine, progressLine } from "../src/cli/progress_line.ts";
import { responseOutput } from "../src/cli/terminal_output.ts";
import { discoveryLines } from "../src/cli/discover_command.ts";
import { runCli } from "./_cli.ts";
import { scriptedServer } from "./_scripted_udp_server.ts";

const TERMINAL = { isTerminal: () => true };
const PIPE = { isTerminal: () => false };
const text = new TextDecoder();
const bytes = (value: string) => new TextEncoder().encode(value);

/** A 2.05 (or `code`) with `payload` and, when given, a Content-Format. */
function response(payload: Uint8Array, contentFormat?: number, code: number = Code.Content): CoapResponse {
  return new CoapResponse({
    ...decode(Uint8Array.of(0x60, code, 0, 0)),
    options: contentFormat === undefined
      ? []
      : [{ number: OptionNumber.ContentFormat, value: encodeUint(contentFormat) }],
    payload,
  }, { hostname: "127.0.0.1", port: 5683 });
}

/** Code points, one terminal column each for what the trace lines hold. */
function columns(line: string): number {
  return Array.from(line).length;
}

Deno.test("on a terminal a payload is laid out by its Content-Format; piped, its bytes come as they are", () => {
  const shown = (payload: Uint8Array, format?: number) =>
    text.decode(responseOutput(response(payload, format), { stdout: TERMINAL }).stdout);
  assert.equal(
    shown(bytes('{"t":22.5,"unit":"C"}'), 50),
    '2.05 Content (application/json)\n{\n  "t": 22.5,\n  "unit": "C"\n}\n',
  );
  assert.equal(shown(bytes("{not json"), 50), "2.05 Content (application/json)\n{not json\n");
  // {"t": 22.5, "ok": true} in CBOR: a2 61 74 f9 4d a0 …
  const cbor = Uint8Array.of(0xa2, 0x61, 0x74, 0xf9, 0x4d, 0xa0, 0x62, 0x6f, 0x6b, 0xf5);
  assert.equal(shown(cbor, 60), '2.05 Content (application/cbor)\n{"t": 22.5, "ok": true}\n');
  assert.match(shown(Uint8Array.of(0xa2, 0x61), 60), /^2\.05 Content \(application\/cbor\)\n0000 {2}a2 61 /);
  assert.equal(
    shown(bytes('</a>;rt="x,y",<http://example.org/i>;rel="impl-info"'), 40),
    '2.05 Content (application/link-format)\n</a>;rt="x,y"\n<http://example.org/i>;rel="impl-info"\n',
  );
  assert.equal(shown(bytes("22.5\x1b[2J"), 0), "2.05 Content (text/plain;charset=utf-8)\n22.5\\u{1b}[2J\n");
  assert.equal(shown(bytes("plain"), 11542), "2.05 Content (Content-Format 11542)\nplain\n");
  const binary = new Uint8Array(300).map((_, i) => i);
  const dump = shown(binary, 42).split("\n");
  assert.equal(dump[1], "0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  |................|");
  assert.equal(dump[17], "… 300 bytes in all; -o FILE saves them, or pipe stdout to a file");
  const piped = responseOutput(response(binary, 42), { stdout: PIPE });
  assert.deepEqual([piped.stdout, piped.stderr], [binary, "2.05 Content (application/octet-stream)\n"]);
  const error = responseOutput(response(bytes("no \x1b such"), 0, Code.NotFound), { stdout: PIPE });
  assert.deepEqual([error.stdout.length, error.stderr], [
    0,
    "4.04 Not Found (text/plain;charset=utf-8)\nno \\u{1b} such\n",
  ]);
});

/** A server that answers every request with an empty piggybacked `code`, keeping the requests in `seen`. */
function recordingServer(seen: Message[], code: number) {
  return scriptedServer((request) => {
    seen.push(request);
    return [{
      type: Type.ACK,
      code,
      messageId: request.messageId,
      token: request.token,
      options: [],
      payload: new Uint8Array(0),
    }];
  });
}

Deno.test("--content-format and --accept take names as aiocoap-client does; an unknown one is a usage error", async () => {
  for (
    const [name, number] of [
      ["json", 50],
      ["cbor", 60],
      ["text", 0],
      ["text/plain", 0],
      ["text/plain;charset=utf-8", 0],
      ["link-format", 40],
      ["application/link-format", 40],
      ["octet-stream", 42],
      ["xml", 41],
      ["senml+json", 110],
      ["APPLICATION/JSON", 50],
      ["60", 60],
      ["0x3c", 60],
    ] as const
  ) {
    assert.equal(contentFormatFlag("accept", name), number, name);
  }
  const seen: Message[] = [];
  const server = recordingServer(seen, Code.Changed);
  try {
    const put = await runCli([
      "put",
      `${server.uri}/x`,
      "--payload",
      "{}",
      "--content-format",
      "json",
      "--accept",
      "cbor",
    ]);
    assert.equal(put.code, 0, put.stderr);
    assert.deepEqual(
      [getUintOption(seen[0], OptionNumber.ContentFormat), getUintOption(seen[0], OptionNumber.Accept)],
      [50, 60],
    );
    const unknown = await runCli(["get", `${server.uri}/x`, "--accept", "jsn"]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /^error: --accept jsn: expected a number 0\.\.65535 or a name: text, link-format, .*cbor/,
    );
    assert.equal(seen.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("--option NUMBER=HEX repeats on a request and reaches the wire in order; a bad one is a usage error", async () => {
  const seen: Message[] = [];
  const server = recordingServer(seen, Code.Content);
  try {
    const get = await runCli([
      "get",
      `${server.uri}/x`,
      "--option",
      "2048=0a0b",
      "--option",
      "2048=",
      "--option",
      "0x801=ff",
    ]);
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(
      seen[0].options.filter((option) => option.number >= 2048).map((
        { number, value },
      ) => [number, [...value]]),
      [[2048, [0x0a, 0x0b]], [2048, []], [2049, [0xff]]],
    );
    const bad = await runCli(["get", `${server.uri}/x`, "--option", "2048"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --option 2048: expected NUMBER=HEX/);
    assert.equal(seen.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("the progress line: its text, drawn in place on a terminal and erased, never drawn elsewhere", () => {
  assert.equal(
    progressLine("GET", "/large", { direction: "download", block: 36, bytes: 37888, total: 2000000 }),
    "  GET /large  block 37  37,888 B  (of ~2,000,000)",
  );
  assert.equal(
    progressLine("GET", "/a\x1b[2J", { direction: "download", block: 0, bytes: 16 }),
    "  GET /a\\u{1b}[2J  block 1  16 B",
  );
  const written: string[] = [];
  const terminal = {
    isTerminal: () => true,
    writeSync: (chunk: Uint8Array) => (written.push(text.decode(chunk)), chunk.length),
  };
  const line = new ProgressLine("PUT", "/blob", terminal);
  line.onProgress!({ direction: "upload", block: 0, bytes: 1024, total: 5000 });
  line.onProgress!({ direction: "upload", block: 1, bytes: 2048, total: 5000 });
  line.clear();
  assert.deepEqual(written, [
    "\r\x1b[K  PUT /blob  block 1 sent  1,024 B  (of 5,000)",
    "\r\x1b[K  PUT /blob  block 2 sent  2,048 B  (of 5,000)",
    "\r\x1b[K",
  ]);
  const piped = new ProgressLine("GET", "/x", { ...PIPE, writeSync: () => assert.fail("wrote to a pipe") });
  assert.equal(piped.onProgress, undefined);
  piped.clear();
});

Deno.test("onProgress: one call per Block2 block received and per Block1 block the server took", async () => {
  const large = new Uint8Array(20 * 1024).map((_, i) => i);
  let uploaded = 0;
  const site = new Site()
    .add("large", { get: () => ({ payload: large, contentFormat: 42 }) })
    .add("upload", { put: (request) => void (uploaded = request.payload.length) });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const client = new CoapClient();
  const base = `coap://127.0.0.1:${server.address.port}`;
  try {
    const downloads: { block: number; bytes: number; total?: number }[] = [];
    const got = await client.request(`${base}/large`, {
      onProgress: ({ direction, ...progress }) => {
        assert.equal(direction, "download");
        downloads.push(progress);
      },
    });
    assert.deepEqual(got.payload, large);
    assert.equal(downloads.length, 20);
    assert.deepEqual(downloads[0], { block: 0, bytes: 1024, total: large.length });
    assert.deepEqual(downloads.at(-1), { block: 19, bytes: large.length, total: large.length });
    const uploads: { direction: string; block: number; bytes: number; total?: number }[] = [];
    const put = await client.request(`${base}/upload`, {
      method: "PUT",
      payload: new Uint8Array(5000),
      blockSize: 1024,
      onProgress: (progress) => uploads.push(progress),
    });
    assert.equal(put.code, Code.Changed);
    assert.equal(uploaded, 5000);
    assert.deepEqual(uploads.map((p) => [p.direction, p.block, p.bytes, p.total]), [
      ["upload", 0, 1024, 5000],
      ["upload", 1, 2048, 5000],
      ["upload", 2, 3072, 5000],
      ["upload", 3, 4096, 5000],
      ["upload", 4, 5000, 5000],
    ]);
    let small = 0;
    await client.request(`${base}/upload`, { method: "PUT", payload: "x", onProgress: () => small++ });
    assert.equal(small, 0);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("--trace rows and observe's lines fit 100 columns; --wide shows them whole", async () => {
  const reading = `${"22.5 °C, humidity 41 %, pressure 1013 hPa; ".repeat(4)}`;
  const site = new Site()
    .add("large", { get: () => ({ payload: reading.repeat(40), contentFormat: 0 }) })
    .add("sensors/outdoor/temperature", observable({ get: () => ({ payload: reading, contentFormat: 0 }) }));
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
  const base = `coap://127.0.0.1:${server.address.port}`;
  try {
    for (
      const args of [
        ["get", `${base}/large`, "--trace"],
        ["observe", `${base}/sensors/outdoor/temperature`, "--count", "1", "--duration", "0.3", "--trace"],
      ]
    ) {
      const fitted = await runCli(args);
      assert.equal(fitted.code, 0, fitted.stderr);
      const lines = [
        ...fitted.stderr.split("\n"),
        ...(args[0] === "observe" ? fitted.stdout.split("\n") : []),
      ];
      const longest = Math.max(...lines.map(columns));
      assert.ok(longest <= 100, `${args[0]}: a line of ${longest} columns:\n${lines.join("\n")}`);
      assert.ok(fitted.stderr.includes("…"), "a row was cut short");
      const wide = await runCli([...args, "--wide"]);
      assert.equal(wide.code, 0, wide.stderr);
      const wideLines = [
        ...wide.stderr.split("\n"),
        ...(args[0] === "observe" ? wide.stdout.split("\n") : []),
      ];
      assert.ok(Math.max(...wideLines.map(columns)) > 100, `${args[0]} --wide: every line fits 100 columns`);
    }
  } finally {
    server.close();
  }
});

Deno.test("discover lists links to elsewhere apart, as full URIs with their rel, not as local paths", async () => {
  const document = '</sensors/t>;rt="temperature-c";obs,<http://example.org/impl-info>;rel="impl-info",' +
    '<coap://other.example/x>;rel="alternate",<coap://127.0.0.1:PORT/same>;ct=0';
  const server = scriptedServer((request) => [{
    type: Type.ACK,
    code: Code.Content,
    messageId: request.messageId,
    token: request.token,
    options: [{ number: OptionNumber.ContentFormat, value: encodeUint(40) }],
    payload: bytes(document.replace("PORT", String(server.port))),
  }]);
  try {
    const result = await runCli(["discover", server.uri]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^path +rt +if +ct +sz +obs +title$/);
    assert.match(lines[1], /^\/sensors\/t +temperature-c +yes$/);
    assert.match(lines[2], /^\/same +0$/);
    assert.deepEqual(lines.slice(3, 5), ["", "links"]);
    assert.match(lines[5], /^link +rel +rt +ct +title$/);
    assert.match(lines[6], /^http:\/\/example\.org\/impl-info +impl-info$/);
    assert.match(lines[7], /^coap:\/\/other\.example\/x +alternate$/);
    assert.equal(lines.length, 8);
  } finally {
    await server.close();
  }
  // Without external links, the table alone, as before; a relative link resolves against the base.
  assert.deepEqual(discoveryLines("<led>", new URL("coap://[::1]/.well-known/core")), [
    "path              rt  if  ct  sz  obs  title",
    "/.well-known/led",
  ]);
});

Deno.test("cbor2 is the CLI's alone: the library's import graph (src/mod.ts) has no npm package", async () => {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("../src/mod.ts", import.meta.url).pathname],
    stdout: "piped",
  }).output();
  const graph: { modules: { specifier: string }[] } = JSON.parse(text.decode(info.stdout));
  assert.ok(graph.modules.length > 10);
  const packages = graph.modules.map((m) => m.specifier).filter((s) =>
    /^npm:|\/node_modules\/|cbor2/.test(s)
  );
  assert.deepEqual(packages, []);
});
