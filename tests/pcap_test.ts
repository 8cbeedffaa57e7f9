// Captures (--pcap): checksums computed by hand, and files that Wireshark's own
// CoAP dissector (tshark) reads back as the datagrams that were traced.
import assert from "node:assert/strict";
import { CoapServer } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { parseCode } from "../src/message/code.ts";
import { parseType } from "../src/message/type.ts";
import { internetChecksum, parseIp } from "../src/tools/ip_udp.ts";
import { LINKTYPE_RAW, pcapFileHeader, pcapRecord } from "../src/tools/pcap.ts";
import type { TraceJson } from "../src/tools/trace_json.ts";
import { bytesToHex } from "../src/tools/hex.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort, needs, runCommand, startProcess, waitForCoap } from "./_peers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test("the Internet checksum of RFC 1071 §3's example, and an IPv4 header that checks to 0", () => {
  assert.equal(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)), 0x220d);
  // An odd byte split across parts counts as if the parts were one buffer.
  assert.equal(
    internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2), Uint8Array.of(0x03, 0xf4, 0xf5, 0xf6, 0xf7)),
    0x220d,
  );
  const record = pcapRecord({
    time: 1_700_000_000_123.456,
    source: { hostname: "192.0.2.1", port: 40000 },
    destination: { hostname: "192.0.2.2", port: 5683 },
    payload: Uint8Array.of(0x40, 0x01, 0x12, 0x34),
  });
  const view = new DataView(record.buffer);
  assert.equal(view.getUint32(0, true), 1_700_000_000);
  assert.equal(view.getUint32(4, true), 123_456);
  assert.equal(view.getUint32(8, true), 20 + 8 + 4);
  const ip = record.subarray(16, 36);
  assert.equal(internetChecksum(ip), 0);
  // The UDP checksum verifies to 0 over pseudo-header and segment.
  const pseudo = Uint8Array.of(192, 0, 2, 1, 192, 0, 2, 2, 0, 17, 0, 12);
  assert.equal(internetChecksum(pseudo, record.subarray(36)), 0);
  assert.equal(new DataView(pcapFileHeader().buffer).getUint32(20, true), LINKTYPE_RAW);
});

Deno.test("parseIp reads IPv4, compressed IPv6, mapped IPv4 and zone ids, and refuses the rest", () => {
  assert.deepEqual([...parseIp("127.0.0.1")], [127, 0, 0, 1]);
  assert.deepEqual([...parseIp("::1")], [...Array(15).fill(0), 1]);
  assert.deepEqual([...parseIp("2001:db8::2:1")], [0x20, 0x01, 0x0d, 0xb8, ...Array(8).fill(0), 0, 2, 0, 1]);
  assert.deepEqual([...parseIp("::ffff:10.1.2.3")], [...Array(10).fill(0), 0xff, 0xff, 10, 1, 2, 3]);
  assert.deepEqual([...parseIp("fe80::1%eth0")], [0xfe, 0x80, ...Array(13).fill(0), 1]);
  for (const bad of ["256.0.0.1", "1::2::3", "1:2:3", "localhost", "::g"]) {
    assert.throws(() => parseIp(bad), RangeError, bad);
  }
});

interface WiresharkRow {
  type: number;
  code: number;
  mid: number;
  token: string;
  uriPath: string;
  observe: string;
  block: string;
  /** The payload as Wireshark delimits it: its block for block-wise messages, else the bytes after 0xff. */
  payloadHex: string;
  udpPayload: string;
}

/** What tshark's CoAP dissector makes of each packet of `file` (UDP `port` decoded as CoAP). */
async function wireshark(file: string, port: number): Promise<WiresharkRow[]> {
  const fields = [
    "udp.checksum.status",
    "ip.checksum.status",
    "coap.type",
    "coap.code",
    "coap.mid",
    "coap.token",
    "coap.opt.uri_path",
    "coap.opt.observe",
    "coap.opt.block_number",
    "coap.payload_length",
    "coap.block_payload",
    "udp.payload",
  ];
  const result = await runCommand("tshark", [
    "-r",
    file,
    "-o",
    "udp.check_checksum:TRUE",
    "-o",
    "ip.check_checksum:TRUE",
    // Wireshark knows CoAP by port 5683; our servers listen on free ports.
    "-d",
    `udp.port==${port},coap`,
    "-Y",
    "coap",
    "-T",
    "fields",
    "-E",
    "separator=|",
    ...fields.flatMap((field) => ["-e", field]),
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim().split("\n").map((line) => {
    const [
      udp,
      ip,
      type,
      code,
      mid,
      token,
      uriPath,
      observe,
      block,
      payloadLength,
      blockPayload,
      udpPayload,
    ] = line.split(
      "|",
    );
    // 1 is Wireshark's "Good"; IPv6 has no header checksum (empty).
    assert.equal(udp, "1", `UDP checksum status in ${line}`);
    assert.ok(ip === "1" || ip === "", `IPv4 header checksum status in ${line}`);
    return {
      type: Number(type),
      code: Number(code),
      mid: Number(mid),
      token,
      uriPath,
      observe,
      block,
      // Wireshark reassembles blocks and gives the whole length only on the last; each block's bytes it gives apart.
      payloadHex: blockPayload || (payloadLength ? udpPayload.slice(-2 * Number(payloadLength)) : ""),
      udpPayload,
    };
  });
}

/** The JSON-lines trace of the same run: what our endpoint says it sent and received. */
async function traced(file: string): Promise<TraceJson[]> {
  return (await Deno.readTextFile(file)).trim().split("\n").map((line) => JSON.parse(line));
}

/** Asserts Wireshark read every traced datagram with the same header, token, Uri-Path and payload. */
function assertSame(rows: WiresharkRow[], events: TraceJson[]): void {
  assert.equal(rows.length, events.length, "packets in the capture vs datagrams traced");
  rows.forEach((row, i) => {
    const event = events[i];
    const where = `packet ${i + 1}`;
    assert.equal(row.udpPayload, event.raw, `${where}: bytes`);
    assert.equal(row.type, parseType(event.type!), `${where}: type`);
    assert.equal(row.code, parseCode(event.code!), `${where}: code`);
    assert.equal(row.mid, event.messageId, `${where}: MID`);
    assert.equal(row.token, event.token, `${where}: token`);
    const path = event.options!.filter((o) => o.name === "Uri-Path").map((o) => o.value).join(",");
    assert.equal(row.uriPath, path, `${where}: Uri-Path`);
    const payload = event.payloadHex ?? bytesToHex(new TextEncoder().encode(event.payload ?? ""));
    assert.equal(row.payloadHex, payload, `${where}: payload`);
  });
}

const TSHARK = ["tshark"];

Deno.test(needs("a GET's capture reads back in Wireshark as sent (IPv4)", TSHARK, "tshark"), async () => {
  const server = new CoapServer(demoSite().site, { hostname: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir();
  try {
    const port = server.address.port;
    const run = await runCli([
      "get",
      "--pcap",
      `${dir}/get.pcap`,
      "--trace-json",
      `${dir}/get.jsonl`,
      `coap://127.0.0.1:${port}/temperature`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const rows = await wireshark(`${dir}/get.pcap`, port);
    assertSame(rows, await traced(`${dir}/get.jsonl`));
    assert.deepEqual(rows.map((r) => [r.type, r.code, r.uriPath]), [[0, 1, "temperature"], [2, 69, ""]]);
    assert.equal(rows[0].token, rows[1].token);
    assert.equal(rows[0].mid, rows[1].mid);
    const reading = run.stdout;
    assert.match(reading, /^\d+\.\d$/);
    // Wireshark's own text/plain dissector shows the reading the CLI printed.
    const text = await runCommand("tshark", [
      "-r",
      `${dir}/get.pcap`,
      "-d",
      `udp.port==${port},coap`,
      "-T",
      "json",
    ]);
    assert.match(text.stdout, new RegExp(`"${reading.replace(".", "\\.")}"`));
  } finally {
    server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  needs("an IPv6 (::1) capture of a block-wise GET reads back in Wireshark", TSHARK, "tshark"),
  async () => {
    const server = new CoapServer(demoSite().site, { hostname: "::1", port: 0 });
    const dir = await Deno.makeTempDir();
    try {
      const port = server.address.port;
      const run = await runCli([
        "get",
        "--block-size",
        "512",
        "--pcap",
        `${dir}/large.pcap`,
        "--trace-json",
        `${dir}/large.jsonl`,
        `coap://[::1]:${port}/large`,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const rows = await wireshark(`${dir}/large.pcap`, port);
      assertSame(rows, await traced(`${dir}/large.jsonl`));
      const ip = await runCommand("tshark", ["-r", `${dir}/large.pcap`, "-T", "fields", "-e", "ipv6.src"]);
      assert.deepEqual(new Set(ip.stdout.trim().split("\n")), new Set(["::1"]));
      // Seven 512-byte blocks of about 3.5 KB: requests and responses numbered 0…6, Wireshark agreeing.
      assert.deepEqual(rows.filter((r) => r.code === 69).map((r) => Number(r.block)), [0, 1, 2, 3, 4, 5, 6]);
    } finally {
      server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  needs("an observe capture: one token, a new MID per notification, Observe rising", TSHARK, "tshark"),
  async () => {
    const demo = demoSite({ driftEvery: 50 });
    const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
    const dir = await Deno.makeTempDir();
    try {
      const port = server.address.port;
      const run = await runCli([
        "observe",
        "--count",
        "3",
        "--pcap",
        `${dir}/observe.pcap`,
        "--trace-json",
        `${dir}/observe.jsonl`,
        `coap://127.0.0.1:${port}/temperature`,
      ]);
      assert.equal(run.code, 0, run.stderr);
      const rows = await wireshark(`${dir}/observe.pcap`, port);
      assertSame(rows, await traced(`${dir}/observe.jsonl`));
      const withObserve = rows.filter((r) => r.code === 69 && r.observe !== "");
      assert.ok(withObserve.length >= 4, `${withObserve.length} responses with Observe`);
      assert.equal(new Set(withObserve.map((r) => r.token)).size, 1);
      assert.equal(new Set(withObserve.map((r) => r.mid)).size, withObserve.length);
      const sequence = withObserve.map((r) => Number(r.observe));
      assert.deepEqual(sequence, [...sequence].sort((a, b) => a - b));
    } finally {
      demo.stop();
      server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(needs("serve --pcap captures the server's side of the traffic", TSHARK, "tshark"), async () => {
  const dir = await Deno.makeTempDir();
  const port = freeUdpPort();
  const server = startProcess(Deno.execPath(), [
    "run",
    "-A",
    MAIN,
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--quiet",
    "--pcap",
    `${dir}/serve.pcap`,
  ]);
  try {
    await waitForCoap(port);
    const run = await runCli([
      "put",
      "--payload",
      "on",
      "--trace-json",
      `${dir}/client.jsonl`,
      `coap://127.0.0.1:${port}/led`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    await server.stop();
    const rows = await wireshark(`${dir}/serve.pcap`, port);
    // The server saw the readiness probes first; the PUT exchange is the last two packets.
    assertSame(rows.slice(-2), await traced(`${dir}/client.jsonl`));
    assert.deepEqual(rows.slice(-2).map((r) => [r.type, r.code, r.uriPath]), [[0, 3, "led"], [2, 68, ""]]);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
