/**
 * The attacks of bench:abuse, from raw UDP sockets on 127.0.0.1 with
 * hand-built datagrams, each measured the same way: bytes the attacker sent
 * and got back, the server's memory, and whether valid GETs from someone else
 * kept being answered within 1 s meanwhile.
 * @module
 */
import { CoapClient, Code, encode, encodeBlock, OptionNumber, Type } from "../src/mod.ts";
import type { CoapOption } from "../src/mod.ts";
import type { Running } from "./abuse_targets.ts";

/** One row of the table. */
export interface AttackResult {
  attack: string;
  server: string;
  bytesIn: number;
  bytesOut: number;
  ratio: number;
  peakMb: number;
  afterMb: number;
  /** Valid GETs answered within 1 s during the attack, of those sent. */
  validAnswered: string;
  /** What else was seen, in a few words. */
  note: string;
}

const text = new TextEncoder();
const empty = new Uint8Array(0);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request datagram to `path` with extra options. */
function requestBytes(
  code: number,
  path: string,
  messageId: number,
  token: number,
  options: CoapOption[] = [],
  payload = empty,
): Uint8Array {
  const segments = path === "" ? [] : path.split("/");
  return encode({
    type: Type.CON,
    code,
    messageId: messageId & 0xffff,
    token: Uint8Array.of(token >>> 24, (token >>> 16) & 0xff, (token >>> 8) & 0xff, token & 0xff),
    options: [...segments.map((s) => ({ number: OptionNumber.UriPath, value: text.encode(s) })), ...options],
    payload,
  });
}

/** A socket that counts what it sends and receives, never answering anything. */
class Attacker {
  readonly socket: Deno.DatagramConn;
  bytesOut = 0;
  bytesIn = 0;
  datagramsIn = 0;
  lastIn = 0;
  #closed = false;

  /** From `source` (a loopback address) to the server's `port` on 127.0.0.1. */
  constructor(readonly port: number, source = "127.0.0.1") {
    const socket = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
    this.socket = socket;
    (async () => {
      try {
        for await (const [data] of socket) {
          this.bytesIn += data.length;
          this.datagramsIn++;
          this.lastIn = performance.now();
        }
      } catch {
        // closed
      }
    })();
  }

  async send(data: Uint8Array): Promise<void> {
    if (this.#closed) return;
    this.bytesOut += data.length;
    await this.socket.send(data, { transport: "udp", hostname: "127.0.0.1", port: this.port });
  }

  close(): void {
    this.#closed = true;
    this.socket.close();
  }
}

/** Valid GETs from a well-behaved client every 200 ms until stopped. */
function probe(running: Running): { stop: () => Promise<string> } {
  const client = new CoapClient();
  let sent = 0;
  let answered = 0;
  let running_ = true;
  const uri = `coap://127.0.0.1:${running.port}/${running.target.paths.observable}`;
  const loop = (async () => {
    while (running_) {
      sent++;
      const started = performance.now();
      try {
        await client.get(uri, { timeout: 1000 });
        if (performance.now() - started <= 1000) answered++;
      } catch {
        // not answered in time
      }
      await pause(200);
    }
  })();
  return {
    stop: async () => {
      running_ = false;
      await loop;
      client.close();
      return `${answered}/${sent}`;
    },
  };
}

function row(
  attack: string,
  running: Running,
  attacker: { bytesOut: number; bytesIn: number },
  peakMb: number,
  validAnswered: string,
  note: string,
): AttackResult {
  return {
    attack,
    server: running.target.name,
    bytesIn: attacker.bytesOut,
    bytesOut: attacker.bytesIn,
    ratio: attacker.bytesOut === 0 ? 0 : Math.round((attacker.bytesIn / attacker.bytesOut) * 100) / 100,
    peakMb,
    afterMb: running.memory().rss,
    validAnswered,
    note,
  };
}

/**
 * `count` Observe registrations from one port that never ACKs anything;
 * watched for `seconds`: how much comes back, and when the server stops.
 */
export async function silentObservers(
  running: Running,
  count: number,
  seconds: number,
): Promise<AttackResult> {
  const attacker = new Attacker(running.port);
  const check = probe(running);
  const started = performance.now();
  const observe = { number: OptionNumber.Observe, value: empty };
  for (let i = 0; i < count; i++) {
    await attacker.send(requestBytes(Code.Get, running.target.paths.observable, 0x1000 + i, i, [observe]));
  }
  let peak = 0;
  for (let t = 0; t < seconds; t++) {
    await pause(1000);
    peak = Math.max(peak, running.memory().rss);
  }
  attacker.close();
  const last = (attacker.lastIn - started) / 1000;
  const stillSending = performance.now() - attacker.lastIn < 5000;
  const note = stillSending ? `still sending after ${seconds} s` : `last datagram after ${last.toFixed(0)} s`;
  return row(
    `${count} silent observer${count === 1 ? "" : "s"} (1 port, ${seconds} s)`,
    running,
    attacker,
    peak,
    await check.stop(),
    `${attacker.datagramsIn} datagrams; ${note}`,
  );
}

/** One GET from a fresh port to each resource, nothing ACKed: the row is the resource with the largest ratio. */
export async function amplification(running: Running): Promise<AttackResult> {
  let worst = { path: "", ratio: 0, bytesIn: 0, bytesOut: 0 };
  for (const path of running.target.paths.every) {
    const attacker = new Attacker(running.port);
    await attacker.send(requestBytes(Code.Get, path, 0x2000, 0x2000));
    await pause(1500);
    attacker.close();
    const ratio = attacker.bytesIn / attacker.bytesOut;
    if (ratio > worst.ratio) worst = { path, ratio, bytesIn: attacker.bytesOut, bytesOut: attacker.bytesIn };
  }
  return row(
    `one GET to each of ${running.target.paths.every.length} resources`,
    running,
    { bytesOut: worst.bytesIn, bytesIn: worst.bytesOut },
    running.memory().peak,
    "-",
    `worst: /${worst.path}`,
  );
}

/** Many requests from one port, sent in bursts, while valid GETs are timed; memory at the peak and 10 s after. */
async function flood(
  running: Running,
  attack: string,
  count: number,
  datagram: (i: number) => Uint8Array,
): Promise<AttackResult> {
  const attacker = new Attacker(running.port);
  const check = probe(running);
  const before = running.memory().rss;
  let peak = before;
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) => attacker.send(datagram(i + j))),
    );
    await pause(20);
    if (i % 5000 === 0) peak = Math.max(peak, running.memory().rss);
  }
  for (let t = 0; t < 10; t++) {
    await pause(1000);
    peak = Math.max(peak, running.memory().rss);
  }
  attacker.close();
  return row(attack, running, attacker, peak, await check.stop(), `RSS before ${before} MB`);
}

/** 20,000 GETs of a resource answered separately, from one port. */
export function slowFlood(running: Running): Promise<AttackResult> {
  const path = running.target.paths.slow!;
  return flood(running, `20,000 GET /${path} (1 port)`, 20_000, (i) => requestBytes(Code.Get, path, i, i));
}

/** 40,000 Block1 uploads that send their first 64-byte block and nothing more. */
export function unfinishedUploads(running: Running): Promise<AttackResult> {
  const path = running.target.paths.upload!;
  const block = new Uint8Array(64).fill(0x61);
  return flood(
    running,
    `40,000 unfinished Block1 uploads to /${path}`,
    40_000,
    (i) =>
      requestBytes(Code.Put, path, i, i, [
        { number: OptionNumber.Block1, value: encodeBlock({ num: 0, more: true, szx: 2 }) },
        { number: OptionNumber.RequestTag, value: Uint8Array.of(i >>> 24, i >>> 16, i >>> 8, i) },
      ], block),
  );
}

/**
 * 200 ports × 100 registrations each, re-sent every second for 10 s, from
 * another host (127.0.0.2: still loopback); then 3 legitimate clients on
 * 127.0.0.1 try to observe: how many are offered an observation.
 */
export async function observerMonopoly(running: Running): Promise<AttackResult> {
  const attackers = Array.from({ length: 200 }, () => new Attacker(running.port, "127.0.0.2"));
  const observe = { number: OptionNumber.Observe, value: empty };
  const path = running.target.paths.observable;
  let peak = 0;
  for (let round = 0; round < 10; round++) {
    await Promise.all(attackers.map(async (attacker, a) => {
      for (let i = 0; i < 100; i++) {
        await attacker.send(requestBytes(Code.Get, path, round * 100 + i, a * 100 + i, [observe]));
      }
    }));
    await pause(1000);
    peak = Math.max(peak, running.memory().rss);
  }
  const client = new CoapClient();
  let offered = 0;
  for (let i = 0; i < 3; i++) {
    try {
      const observation = await client.observe(`coap://127.0.0.1:${running.port}/${path}`, { timeout: 2000 });
      if (observation.active) offered++;
      observation.cancel();
    } catch {
      // not answered
    }
  }
  client.close();
  const totals = attackers.reduce(
    (sum, a) => ({ bytesOut: sum.bytesOut + a.bytesOut, bytesIn: sum.bytesIn + a.bytesIn }),
    {
      bytesOut: 0,
      bytesIn: 0,
    },
  );
  for (const attacker of attackers) attacker.close();
  return row(
    "20,000 registrations from 200 ports of 127.0.0.2",
    running,
    totals,
    peak,
    `${offered}/3 observe`,
    "legitimate observers offered an observation",
  );
}
