// The emulated device (issue 5): the firmware, built from the wasm2c
// translation of the very core.wasm Deno loads, boots under QEMU and is
// reached through the serial↔UDP bridge by our client and by libcoap; as a
// client itself it PUTs readings to an edge server through a link that drops
// the first two copies of each.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  Code,
  ContentFormat,
  decode,
  encode,
  type Message,
  OptionNumber,
  Site,
  Type,
} from "../src/mod.ts";
import { MessageLayerCore } from "../src/core/message_layer_core.ts";
import { DEVICE_PACKAGES, startDevice } from "../src/device/device.ts";
import { encodeDiagnosticFrame, encodeIpFrame } from "../src/device/slipmux.ts";
import { runCli } from "./_cli.ts";
import { freeUdpPort, needs, runCommand } from "./_peers.ts";

const root = new URL("../", import.meta.url).pathname;
const TOOLS = ["wasm2c", "riscv64-unknown-elf-gcc", "qemu-system-riscv32"];
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const READING = /^-?\d+\.\d$/;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function coreSha256(): Promise<string> {
  const wasm = await Deno.readFile(`${root}src/core/core.wasm`);
  return Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", wasm)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

Deno.test({
  ...needs("device: our client and libcoap reach the sensor node under QEMU", TOOLS, DEVICE_PACKAGES),
  async fn(t) {
    const device = await startDevice({ seed: 7 });
    const client = new CoapClient();
    try {
      await t.step("boot self-test: same core, same decode, same schedule as Deno", async () => {
        assert.ok(
          device.log.includes(`device boot core.wasm sha256 ${await coreSha256()}`),
          device.log.join("\n"),
        );
        assert.ok(device.log.includes("selftest decode error 0 type 0 code 1 mid 4660 options 1"));
        assert.ok(device.log.includes("selftest roundtrip identical"));
        // Same sizes, seed, §4.8 parameters and clock: the same peer entry and first deadline on RV32 as in
        // Deno's core. The address is the device's opaque bytes there and text here; only its entry counts.
        const core = new MessageLayerCore(
          {
            peers: 16,
            safeWindow: 4,
            recentNons: 4,
            strictEntries: 32,
            strictPerPeer: 16,
            retransmitSlots: 32,
          },
          { exchangeLifetime: 247_000, nonLifetime: 145_000, seed: 1234 },
        );
        const peer = core.peerFor({ hostname: "0.0.0.0", port: 0 }, 0);
        core.schedule(peer, 0x1234, 0, { ackTimeout: 2000, ackRandomFactor: 1.5, maxRetransmit: 4 });
        assert.ok(
          device.log.includes(`selftest peer ${peer} first deadline ${core.untilNextDeadline(0)}`),
          device.log.join("\n"),
        );
      });

      await t.step("GET /temperature", async () => {
        const response = await client.get(`${device.url}/temperature`);
        assert.equal(response.code, Code.Content);
        assert.equal(response.contentFormat, ContentFormat.TextPlain);
        assert.match(text(response.payload), READING);
      });

      await t.step("PUT /temperature sets the calibration offset", async () => {
        assert.equal((await client.put(`${device.url}/temperature`, "+100.0")).code, Code.Changed);
        // The simulated sensor stays within 15-30 °C, so the offset shows.
        assert.ok(Number(text((await client.get(`${device.url}/temperature`)).payload)) > 110);
        assert.equal((await client.put(`${device.url}/temperature`, "warm")).code, Code.BadRequest);
        assert.equal((await client.put(`${device.url}/temperature`, "0")).code, Code.Changed);
        assert.ok(Number(text((await client.get(`${device.url}/temperature`)).payload)) < 40);
      });

      await t.step("/led: PUT on/off, GET the state, other methods 4.05", async () => {
        assert.equal((await client.put(`${device.url}/led`, "on")).code, Code.Changed);
        assert.equal(text((await client.get(`${device.url}/led`)).payload), "on");
        assert.equal((await client.put(`${device.url}/led`, "blink")).code, Code.BadRequest);
        assert.equal((await client.delete(`${device.url}/led`)).code, Code.MethodNotAllowed);
      });

      await t.step("discovery lists the resources, /temperature observable", async () => {
        const response = await client.get(`${device.url}/.well-known/core`);
        assert.equal(response.contentFormat, ContentFormat.LinkFormat);
        const links = text(response.payload);
        assert.match(links, /<\/temperature>;[^,]*obs/);
        assert.match(links, /<\/led>/);
        assert.match(links, /<\/fw>/);
      });

      await t.step("unknown path 4.04, an Accept it cannot meet 4.06", async () => {
        assert.equal((await client.get(`${device.url}/nothing/here`)).code, Code.NotFound);
        const json = await client.get(`${device.url}/temperature`, { accept: ContentFormat.Json });
        assert.equal(json.code, Code.NotAcceptable);
      });

      await t.step("/fw reports the SHA-256 of the core.wasm in this checkout", async () => {
        const response = await client.get(`${device.url}/fw`);
        assert.equal(response.contentFormat, ContentFormat.Json);
        const fw = JSON.parse(text(response.payload));
        assert.equal(fw.core_sha256, await coreSha256());
        assert.ok(
          fw.uptime_ms > 0 && fw.free_ram_bytes > 0 && fw.free_ram_bytes < 400 * 1024,
          text(response.payload),
        );
      });

      await t.step("Block2: the block asked for, with M set while more follows", async () => {
        const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
        const to = { transport: "udp" as const, hostname: "127.0.0.1", port: device.bridge.address.port };
        try {
          const whole = (await client.get(`${device.url}/.well-known/core`)).payload;
          // Block 1 of 16 bytes: NUM 1, SZX 0.
          await socket.send(
            encode({
              type: Type.CON,
              code: Code.Get,
              messageId: 0x4242,
              token: Uint8Array.of(7),
              options: [
                { number: OptionNumber.UriPath, value: new TextEncoder().encode(".well-known") },
                { number: OptionNumber.UriPath, value: new TextEncoder().encode("core") },
                { number: OptionNumber.Block2, value: Uint8Array.of(0x10) },
              ],
              payload: new Uint8Array(0),
            }),
            to,
          );
          const reply = decode((await socket.receive())[0]);
          assert.equal(reply.code, Code.Content);
          assert.deepEqual(
            reply.options.find((o) => o.number === OptionNumber.Block2)?.value,
            Uint8Array.of(0x18),
          );
          assert.deepEqual(reply.payload, whole.subarray(16, 32));
        } finally {
          socket.close();
        }
      });

      await t.step("observe: 5 notifications, every 5th CON, one token, fresh MIDs", async () => {
        const observation = await client.observe(`${device.url}/temperature`);
        const notifications: Message[] = [];
        for await (const notification of observation) {
          notifications.push(notification.message);
          if (notifications.length === 5) break;
        }
        assert.deepEqual(notifications.map((m) => m.type), [
          Type.NON,
          Type.NON,
          Type.NON,
          Type.NON,
          Type.CON,
        ]);
        assert.equal(new Set(notifications.map((m) => m.messageId)).size, 5);
        assert.equal(new Set(notifications.map((m) => m.token.join())).size, 1);
        const sequence = notifications.map((m) =>
          m.options.find((o) => o.number === OptionNumber.Observe)!.value.reduce((n, b) => n * 256 + b, 0)
        );
        assert.ok(sequence.every((n, i) => i === 0 || n > sequence[i - 1]), `${sequence}`);
        notifications.forEach((m) => assert.match(text(m.payload), READING));
        // Leaving the loop deregistered (GET with Observe = 1).
        await device.waitForLog(/^observer deregistered/, 5000);
        assert.equal(JSON.parse(text((await client.get(`${device.url}/fw`)).payload)).observers, 0);
      });

      await t.step("an observer keeps its notifications while 40 other peers come and go", async () => {
        const observer = new CoapClient();
        try {
          const observation = await observer.observe(`${device.url}/temperature`);
          // More peers than the device's table holds: entries still named by an observation must not be reused.
          for (let i = 0; i < 40; i++) {
            const passer = new CoapClient();
            assert.equal((await passer.get(`${device.url}/led`)).code, Code.Content);
            passer.close();
          }
          // The next reading is at most 2 s away; without the fix it went to a stranger's port, and the
          // client only got one again by re-registering after Max-Age (60 s).
          const next = observation[Symbol.asyncIterator]().next();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const late = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("no notification within 5 s")), 5000);
          });
          try {
            const { value } = await Promise.race([next, late]);
            assert.match(text(value!.payload), READING);
          } finally {
            clearTimeout(timer);
          }
        } finally {
          observer.close();
        }
      });

      await t.step({
        ...needs("libcoap's coap-client-notls: GET, /fw, and discovery in 16-byte blocks", [
          "coap-client-notls",
        ], "libcoap3-bin"),
        fn: async () => {
          const get = await runCommand(
            "coap-client-notls",
            ["-m", "get", `${device.url}/temperature`],
            20_000,
          );
          assert.match(get.stdout.trim(), READING);
          const fw = await runCommand("coap-client-notls", ["-m", "get", `${device.url}/fw`], 20_000);
          assert.equal(JSON.parse(fw.stdout).core_sha256, await coreSha256());
          // 16-byte blocks: the listing (about 90 bytes) comes in several Block2 exchanges, one ETag for all.
          // (Not /fw: its uptime changes every millisecond, so each block has another ETag, and libcoap rightly
          // starts over each time, RFC 7959 §2.4.)
          const whole = text((await client.get(`${device.url}/.well-known/core`)).payload);
          const blocks = await runCommand(
            "coap-client-notls",
            ["-b", "16", "-m", "get", `${device.url}/.well-known/core`],
            20_000,
          );
          assert.equal(blocks.stdout.trim(), whole);
          assert.match(blocks.stdout, /<\/temperature>;.*obs/);
        },
      });

      await t.step("malformed frames and datagrams do not stop it answering", async () => {
        const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
        const to = { transport: "udp" as const, hostname: "127.0.0.1", port: device.bridge.address.port };
        try {
          // A CON with token length 15 is rejected with RST (RFC 7252 §4.2), the rest is ignored.
          await socket.send(Uint8Array.of(0x4f, 0x01, 0xbe, 0xef), to);
          const [reply] = await socket.receive();
          const reset = decode(reply);
          assert.equal(reset.type, Type.RST);
          assert.equal(reset.messageId, 0xbeef);
          for (const junk of [Uint8Array.of(0xff), Uint8Array.of(0x40), new Uint8Array(200).fill(0xa5)]) {
            await socket.send(junk, to);
          }
        } finally {
          socket.close();
        }
        const broken = [
          Uint8Array.of(0xc0, 0xdb, 0x01, 0x45, 0xc0), // an escape followed by a byte SLIP does not define
          Uint8Array.of(0xc0, 0x99, 1, 2, 3, 0xc0), // an unknown slipmux frame type
          encodeDiagnosticFrame("a diagnostic frame the device does not expect"),
          Uint8Array.of(0xc0, ...new Uint8Array(3000).fill(0x45), 0xc0), // longer than any frame
          encodeIpFrame(Uint8Array.of(0x45, 0, 0, 28, ...new Uint8Array(24))), // IPv4 with a wrong checksum
          encodeIpFrame(Uint8Array.of(0x60, 0, 0, 0)), // truncated IPv6
          Uint8Array.of(0x45, 0x00, 0x00), // bytes with no frame end: the next END closes and drops them
        ];
        for (const frame of broken) await device.bridge.writeSerial(frame);
        const response = await client.get(`${device.url}/temperature`);
        assert.equal(response.code, Code.Content);
        assert.ok(device.log.some((line) => line.startsWith("malformed datagram")), device.log.join("\n"));
      });
    } finally {
      client.close();
      await device.stop();
    }
  },
});

/** A UDP relay in front of the edge server that drops the first `drops` copies of each CON from the device. */
function droppingRelay(serverPort: number, drops: number) {
  const facingDevice = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const facingServer = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const arrivals = new Map<number, number[]>();
  let device: Deno.NetAddr | undefined;
  const server: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: serverPort };
  const pump = async (from: Deno.DatagramConn, handle: (data: Uint8Array, addr: Deno.NetAddr) => void) => {
    try {
      for await (const [data, addr] of from) handle(data, addr as Deno.NetAddr);
    } catch {
      // closed
    }
  };
  const done = Promise.all([
    pump(facingDevice, (data, addr) => {
      device = addr;
      const message = decode(data);
      const times = arrivals.get(message.messageId) ?? [];
      times.push(performance.now());
      arrivals.set(message.messageId, times);
      if (times.length > drops) facingServer.send(data, server);
    }),
    pump(facingServer, (data) => {
      if (device) facingDevice.send(data, device);
    }),
  ]);
  return {
    port: (facingDevice.addr as Deno.NetAddr).port,
    arrivals,
    close: async () => {
      facingDevice.close();
      facingServer.close();
      await done;
    },
  };
}

Deno.test({
  ...needs(
    "device: as a client, readings arrive exactly once despite two lost copies each",
    TOOLS,
    DEVICE_PACKAGES,
  ),
  async fn() {
    const received: { n: number; temperature: number }[] = [];
    const site = new Site().add("readings", {
      put: (request) => {
        received.push(JSON.parse(text(request.payload)));
        return { code: Code.Changed };
      },
    });
    const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
    const relay = droppingRelay(server.address.port, 2);
    const device = await startDevice({ seed: 11, edge: `coap://127.0.0.1:${relay.port}/readings` });
    try {
      // Two readings, each sent 3 times (ACK_TIMEOUT 2-3 s, then double): under 20 s; polled for at most 30 s.
      const settled = () => device.log.filter((line) => line.startsWith("edge answered 2.04")).length;
      for (let waited = 0; settled() < 2 && waited < 30_000; waited += 100) await pause(100);
      assert.equal(settled(), 2, device.log.join("\n"));
      assert.deepEqual(received.slice(0, 2).map((reading) => reading.n), [1, 2]);
      assert.equal(
        new Set(received.map((reading) => reading.n)).size,
        received.length,
        "a reading arrived twice",
      );
      const settledMids = [...relay.arrivals].filter(([, times]) => times.length >= 3);
      assert.ok(settledMids.length >= 2);
      for (const [mid, times] of settledMids.slice(0, 2)) {
        assert.equal(times.length, 3, `MID ${mid} was sent ${times.length} times`);
        const [first, second] = [times[1] - times[0], times[2] - times[1]];
        // RFC 7252 §4.2: the first timeout is 2-3 s (ACK_TIMEOUT × [1, ACK_RANDOM_FACTOR]), then it doubles.
        // 200 ms of slack for QEMU and the host scheduler.
        assert.ok(first >= 1800 && first <= 3200, `first gap ${first} ms`);
        assert.ok(
          Math.abs(second - 2 * first) <= 200,
          `second gap ${second} ms after a first of ${first} ms`,
        );
      }
    } finally {
      await device.stop();
      await relay.close();
      server.close();
    }
  },
});

Deno.test({
  ...needs(
    "device command: ready line, a libcoap GET, SIGTERM stops QEMU",
    [...TOOLS, "coap-client-notls"],
    DEVICE_PACKAGES,
  ),
  async fn() {
    const port = freeUdpPort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", `${root}main.ts`, "device", "--port", `${port}`, "--quiet"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const { value } = await lines.read();
      assert.match(
        value ?? "",
        new RegExp(`^device ready coap://127\\.0\\.0\\.1:${port} \\(boot \\d+ ms\\)`),
      );
      const get = await runCommand("coap-client-notls", [
        "-m",
        "get",
        `coap://127.0.0.1:${port}/temperature`,
      ]);
      assert.match(get.stdout.trim(), READING);
    } finally {
      child.kill("SIGTERM");
    }
    const status = await child.status;
    lines.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    // The command exits only after QEMU has (Device.stop waits for it), and the port is free again.
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
  },
});

Deno.test("device command: an edge URI the device cannot use is a usage error", async () => {
  const result = await runCli(["device", "--edge", "coap://sensor.example/readings"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--edge must look like coap:\/\/127\.0\.0\.1:5684\/readings/);
});

Deno.test({
  ...needs(
    "device: QEMU powers off by itself when its host dies without stopping it",
    TOOLS,
    DEVICE_PACKAGES,
  ),
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", `${root}main.ts`, "device", "--port", "0", "--quiet"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let qemu: string;
    try {
      assert.match((await lines.read()).value ?? "", /^device ready/);
      qemu = (await runCommand("pgrep", ["-P", `${child.pid}`, "-f", "qemu-system-riscv32"])).stdout.trim();
      assert.match(qemu, /^\d+$/);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      lines.releaseLock();
      await child.stdout.cancel().catch(() => {});
    }
    // No keepalive for 10 s: the firmware powers off, and QEMU exits with it. Polled for at most 20 s.
    let alive = true;
    for (let waited = 0; alive && waited < 20_000; waited += 250) {
      await pause(250);
      alive = (await runCommand("kill", ["-0", qemu])).code === 0;
    }
    assert.equal(alive, false, `QEMU ${qemu} still runs 20 s after its host died`);
  },
});
