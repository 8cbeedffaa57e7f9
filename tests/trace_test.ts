// Traces (--trace, --trace-json): the lab's lessons visible on real traffic — a
// separate response, Observe notifications, retransmissions — and the diagram's layout.
import assert from "node:assert/strict";
import { CoapServer, Site } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { Code } from "../src/message/code.ts";
import { encode } from "../src/message/codec.ts";
import type { Message } from "../src/message/message.ts";
import { OptionNumber } from "../src/message/option.ts";
import { encodeString, encodeUint } from "../src/message/option_value.ts";
import { Type } from "../src/message/type.ts";
import type { TraceEvent } from "../src/endpoint/trace.ts";
import { SequenceDiagram } from "../src/tools/sequence_diagram.ts";
import type { TraceJson } from "../src/tools/trace_json.ts";
import { runCli } from "./_cli.ts";

/** A row of the diagram, taken apart: which way the arrow points and what is written on it. */
interface Row {
  rightward: boolean;
  type: string;
  code: string;
  mid: string;
  token?: string;
  rest: string;
}

function rows(diagram: string): Row[] {
  // A line under a row with no time and no arrow holds that row's notes (rows fit 100 columns).
  const lines = diagram.split("\n").filter((line) => line.includes("│")).reduce<string[]>((joined, line) => {
    if (/^ +│ {2}‹/.test(line)) joined[joined.length - 1] += `  ${line.split("│")[1].trim()}`;
    else joined.push(line);
    return joined;
  }, []);
  return lines.map((line) => {
    const [, arrow, rest] = line.split("│");
    const label =
      /(CON|NON|ACK|RST) (Empty|\d\.\d\d [A-Za-z ]+?) {2}MID (0x[0-9a-f]{4})(?: {2}tok ([0-9a-f]+))?/
        .exec(arrow);
    assert.ok(label, `no label in ${line}`);
    return {
      rightward: arrow.includes("▶"),
      type: label[1],
      code: label[2],
      mid: label[3],
      token: label[4],
      rest: rest ?? "",
    };
  });
}

const SLOW_MS = 300;

/** A server whose /slow answers after SLOW_MS, beyond its 50 ms separate-response delay. */
function slowServer(): CoapServer {
  const site = new Site().add("slow", {
    get: () => new Promise((resolve) => setTimeout(() => resolve("done"), SLOW_MS)),
  });
  return new CoapServer(site, { hostname: "127.0.0.1", port: 0, separateResponseDelay: 50 });
}

Deno.test("--trace of a separate response: empty ACK, then a CON with the request's token, then our ACK", async () => {
  const server = slowServer();
  const dir = await Deno.makeTempDir();
  try {
    const run = await runCli([
      "get",
      "--trace",
      "--trace-json",
      `${dir}/trace.jsonl`,
      `coap://127.0.0.1:${server.address.port}/slow`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "done");
    assert.match(run.stderr, /\n2\.05 Content\b[^\n]*\n$/);
    assert.match(run.stderr.split("\n")[0], /^ +time {2}client \S+ +server 127\.0\.0\.1:\d+$/);
    const [request, emptyAck, response, ack, ...more] = rows(run.stderr);
    assert.deepEqual(more, []);
    assert.deepEqual([request.rightward, request.type, request.code], [true, "CON", "0.01 GET"]);
    assert.match(request.rest, /\/slow/);
    assert.deepEqual([emptyAck.rightward, emptyAck.type, emptyAck.code, emptyAck.mid], [
      false,
      "ACK",
      "Empty",
      request.mid,
    ]);
    assert.equal(emptyAck.token, undefined);
    assert.match(emptyAck.rest, /empty ACK: the response follows separately/);
    assert.deepEqual([response.rightward, response.type, response.code, response.token], [
      false,
      "CON",
      "2.05 Content",
      request.token,
    ]);
    assert.notEqual(response.mid, request.mid);
    assert.match(response.rest, new RegExp(`separate response: same token ${request.token}, new MID`));
    assert.match(response.rest, /"done"/);
    assert.deepEqual([ack.rightward, ack.type, ack.code, ack.mid], [true, "ACK", "Empty", response.mid]);

    const events: TraceJson[] = (await Deno.readTextFile(`${dir}/trace.jsonl`)).trim().split("\n").map((
      line,
    ) => JSON.parse(line));
    assert.deepEqual(events.map((e) => [e.direction, e.type, e.code]), [
      ["out", "CON", "0.01"],
      ["in", "ACK", "0.00"],
      ["in", "CON", "2.05"],
      ["out", "ACK", "0.00"],
    ]);
    assert.deepEqual(events.map((e) => `0x${e.messageId!.toString(16).padStart(4, "0")}`), [
      request.mid,
      request.mid,
      response.mid,
      response.mid,
    ]);
    assert.equal(events[2].token, request.token);
    assert.equal(events[2].payload, "done");
    assert.deepEqual(events[1].notes, ["empty ACK: the response follows separately"]);
    // The separate response came after the handler's delay; times are seconds from the first datagram.
    assert.equal(events[0].time, 0);
    assert.ok(events[2].time >= SLOW_MS / 1000 - 0.01, `response at ${events[2].time} s`);
    assert.ok(
      events.every((e) => /^([0-9a-f]{2})+$/.test(e.raw) && e.peer === `127.0.0.1:${server.address.port}`),
    );
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--trace of observe: notifications keep the registration's token, each with a new MID", async () => {
  const demo = demoSite({ driftEvery: 50 });
  const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
  try {
    const run = await runCli([
      "observe",
      "--count",
      "3",
      "--trace",
      `coap://127.0.0.1:${server.address.port}/temperature`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const all = rows(run.stderr);
    const register = all[0];
    assert.match(register.rest, /\/temperature {2}Observe 0/);
    const notifications = all.filter((row) => /notification \d+: same token, new MID/.test(row.rest));
    assert.equal(notifications.length, 3);
    for (const row of notifications) {
      assert.equal(row.token, register.token);
      assert.equal(row.rightward, false);
    }
    assert.equal(new Set(notifications.map((row) => row.mid)).size, 3);
    assert.ok(notifications.every((row) => row.mid !== register.mid));
  } finally {
    demo.stop();
    server.close();
  }
});

Deno.test("--trace marks the retransmission of a CON a silent peer never acknowledges", async () => {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  try {
    const run = await runCli([
      "get",
      "--trace",
      "--ack-timeout",
      "0.1",
      "--max-retransmit",
      "1",
      `coap://127.0.0.1:${port}/x`,
    ]);
    assert.equal(run.code, 3, run.stderr);
    const lines = run.stderr.split("\n").filter((line) => line.includes("│"));
    const [first, again] = rows(run.stderr);
    assert.equal(lines.length, 2);
    assert.deepEqual([first.mid, first.token], [again.mid, again.token]);
    assert.doesNotMatch(lines[0], /retransmission|┄/);
    assert.match(lines[1], /┄▶.*‹retransmission 1›/);
  } finally {
    socket.close();
  }
});

Deno.test("--verbose still prints one line per datagram, alongside --trace", async () => {
  const server = new CoapServer(demoSite().site, { hostname: "127.0.0.1", port: 0 });
  try {
    const run = await runCli(["get", "--verbose", "--trace", `coap://127.0.0.1:${server.address.port}/led`]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stderr.split("\n").filter((line) => /^[→←] 127\.0\.0\.1:\d+ {2}(CON|ACK) /.test(line)).length,
      2,
    );
    assert.equal(rows(run.stderr).length, 2);
    const usage = await runCli(["get", "--trace-json", "/nonexistent/dir/t.jsonl", `coap://127.0.0.1:1/x`]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^error: --trace-json \/nonexistent\/dir\/t\.jsonl: /);
  } finally {
    server.close();
  }
});

const CLIENT = { hostname: "10.0.0.1", port: 40000 };
const SERVER = { hostname: "10.0.0.2", port: 5683 };

function event(
  direction: "in" | "out",
  at: number,
  message: Message,
  extra: Partial<TraceEvent> = {},
): TraceEvent {
  return { direction, at, peer: SERVER, local: CLIENT, bytes: encode(message), message, ...extra };
}

function message(type: number, code: number, messageId: number, fields: Partial<Message> = {}): Message {
  return {
    type: type as Message["type"],
    code,
    messageId,
    token: new Uint8Array(0),
    options: [],
    payload: new Uint8Array(0),
    ...fields,
  };
}

Deno.test("the diagram: arrows point from sender to receiver on either side, with options, payload and notes", () => {
  const token = Uint8Array.of(0xbe, 0xef);
  const request = message(Type.CON, Code.Get, 0x10, {
    token,
    options: [{ number: OptionNumber.UriPath, value: encodeString("large") }],
  });
  const response = message(Type.ACK, Code.Content, 0x10, {
    token,
    options: [
      { number: OptionNumber.ContentFormat, value: encodeUint(0) },
      { number: OptionNumber.Block2, value: encodeUint(0x0e) }, // NUM 0, M 1, SZX 6
    ],
    payload: encodeString("x".repeat(30)),
  });
  const client = new SequenceDiagram({
    left: "client",
    right: "server",
    local: "left",
    peer: SERVER,
    wide: true,
  });
  const out = client.row(event("out", 1000, request));
  const back = client.row(event("in", 1012.5, response));
  const again = client.row({ ...event("out", 3000, request, { retransmission: 1 }), lost: true });
  assert.equal(out, `  0.000 s  │─ CON 0.01 GET  MID 0x0010  tok beef ${"─".repeat(17)}▶ │  /large`);
  // The headings stand over the bars: "client" starts at the left one, "server" ends at the right one.
  const header = client.header();
  assert.match(header, /^ {5}time {2}client +server$/);
  assert.equal(header.indexOf("client"), out.indexOf("│"));
  assert.equal(header.length, out.lastIndexOf("│") + 1);
  assert.match(back, /^ {2}0\.013 s {2}│ ◀─+ ACK 2\.05 Content {2}MID 0x0010 {2}tok beef ─│/);
  assert.match(back, /│ {2}ct text\/plain;charset=utf-8 {2}Block2 0\/1\/1024 {2}"x{24}…" \(30 B\)$/);
  assert.match(again, /^ {2}2\.000 s {2}│┄ CON .*┄✗ │ {2}\/large {2}‹retransmission 1; lost on the link›$/);
  // A notification is noted once; its retransmission is the same message again, with the same MID.
  const notification = message(Type.CON, Code.Content, 0x20, {
    token,
    options: [{ number: OptionNumber.Observe, value: encodeUint(7) }],
  });
  assert.match(client.row(event("in", 4000, notification)), /‹notification 7: same token, new MID›$/);
  assert.match(
    client.row(event("in", 6000, notification, { retransmission: 1 })),
    /Observe 7 {2}‹retransmission 1›$/,
  );
  // A server's diagram: it is the right column, so what it sends points left, and the peer is named.
  const server = new SequenceDiagram({ left: "peer", right: "server", local: "right" });
  const inbound = server.row({ ...event("in", 0, request), peer: CLIENT, local: SERVER });
  const reply = server.row({ ...event("out", 1, message(Type.ACK, 0, 0x10)), peer: CLIENT, local: SERVER });
  assert.match(inbound, /│─ CON 0\.01 GET .*▶ │ {2}10\.0\.0\.1:40000 {2}\/large$/);
  // Fitted to 100 columns (not --wide), the notes that would not fit go on a line of their own under it.
  assert.match(
    reply,
    /│ ◀─+ ACK Empty {2}MID 0x0010 ─│ {2}10\.0\.0\.1:40000\n {11}│ {2}‹empty ACK: the response follows separately›$/,
  );
});
