/**
 * The coaps command lines a user types: `serve --dtls-port --psk` reached by libcoap's GnuTLS client
 * (default suite and PSK-AES128-CCM8 forced by a priority file), `get coaps://` against libcoap's
 * OpenSSL server with the right and a wrong key, --session-file resuming across runs, --keylog.
 */
import assert from "node:assert/strict";
import { runCli, spawnCli } from "./_cli.ts";
import {
  freeCoapsPortPair,
  freeUdpPort,
  hasCommand,
  needs,
  needsOpenSsl,
  runCommand,
  startProcess,
  waitForCoap,
} from "./_peers.ts";

/** A GnuTLS system priority file that leaves only the suite RFC 7252 §9.1.3.1 makes mandatory (PSK, AES-128-CCM-8). */
const CCM8_ONLY = [
  "[overrides]",
  ...["CHACHA20-POLY1305", "AES-128-GCM", "AES-256-GCM", "AES-128-CCM", "AES-256-CCM", "AES-256-CCM-8"]
    .map((cipher) => `tls-disabled-cipher = ${cipher}`),
  ...["AES-128-CBC", "AES-256-CBC"].map((cipher) => `tls-disabled-cipher = ${cipher}`),
  "tls-disabled-kx = ECDHE-PSK",
  "tls-disabled-kx = DHE-PSK",
].join("\n") + "\n";

async function withServe(run: (dtlsPort: number) => Promise<void>, extra: string[] = []): Promise<string> {
  const port = freeUdpPort();
  const dtlsPort = freeUdpPort();
  const child = spawnCli([
    "serve",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--dtls-port",
    String(dtlsPort),
    "--psk",
    "secret",
    ...extra,
  ]);
  try {
    await waitForCoap(port);
    await run(dtlsPort);
  } finally {
    child.kill("SIGTERM");
  }
  return new TextDecoder().decode((await child.output()).stdout);
}

Deno.test(
  needs(
    "coap-client-gnutls reads /temperature from serve --dtls-port --psk secret",
    ["coap-client-gnutls"],
    "libcoap3-bin",
  ),
  async () => {
    const log = await withServe(async (dtlsPort) => {
      const uri = `coaps://127.0.0.1:${dtlsPort}/temperature`;
      const plain = await runCommand("coap-client-gnutls", ["-B", "5", "-k", "secret", "-u", "dev1", uri]);
      assert.match(plain.stdout.trim(), /^-?\d+\.\d$/, plain.stderr);
      // The same with only TLS_PSK_WITH_AES_128_CCM_8 allowed, through GnuTLS's priority override.
      const priorities = await Deno.makeTempFile();
      await Deno.writeTextFile(priorities, CCM8_ONLY);
      const child = new Deno.Command("coap-client-gnutls", {
        args: ["-B", "5", "-k", "secret", "-u", "dev1", uri],
        env: { GNUTLS_SYSTEM_PRIORITY_FILE: priorities },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const forced = await child;
      await Deno.remove(priorities);
      assert.match(new TextDecoder().decode(forced.stdout).trim(), /^-?\d+\.\d$/);
    });
    // Each client's session as serve logs it: the default suite first, then the forced one.
    const suites = [...log.matchAll(/session up, (\S+) identity "dev1"/g)].map((match) => match[1]);
    assert.deepEqual(suites, ["ECDHE-PSK-CHACHA20-POLY1305", "PSK-AES128-CCM8"]);
  },
);

Deno.test(
  needs("get coaps:// against coap-server-openssl: the time with the right PSK, exit 3 with a wrong one", [
    "coap-server-openssl",
  ], "libcoap3-bin"),
  async () => {
    const coapsPort = freeCoapsPortPair();
    const server = startProcess("coap-server-openssl", [
      "-k",
      "secret",
      "-p",
      String(coapsPort - 1),
      "-A",
      "127.0.0.1",
    ]);
    const dir = await Deno.makeTempDir();
    try {
      await waitForCoap(coapsPort - 1);
      const uri = `coaps://127.0.0.1:${coapsPort}/time`;
      const base = [uri, "--psk-identity", "dev1", "--psk", "secret"];
      const sessionFlags = [
        "--session-file",
        `${dir}/sessions.json`,
        "--keylog",
        `${dir}/keys.log`,
        "--verbose",
      ];
      const first = await runCli(["get", ...base, ...sessionFlags]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^\w{3} \d\d \d\d:\d\d:\d\d/);
      assert.match(first.stderr, /^2\.05 Content\b/m);
      assert.match(first.stderr, /full handshake, 3 round trips/);
      // The next run resumes the session the first one saved.
      const second = await runCli(["get", ...base, ...sessionFlags]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /resumed, 2 round trips/);
      assert.match(await Deno.readTextFile(`${dir}/keys.log`), /^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/m);
      // --pcap on a coaps URI captures what crossed the network: DTLS records, handshake (22) then data (23).
      const captured = await runCli(["get", ...base, "--pcap", `${dir}/coaps.pcap`]);
      assert.equal(captured.code, 0, captured.stderr);
      if (hasCommand("tshark")) {
        const records = await runCommand("tshark", [
          "-r",
          `${dir}/coaps.pcap`,
          "-d",
          `udp.port==${coapsPort},dtls`,
          "-T",
          "fields",
          "-e",
          "dtls.record.content_type",
        ], 20_000);
        const types = records.stdout.split(/[\n,]/).filter(Boolean);
        assert.deepEqual([types[0], types.includes("23")], ["22", true], records.stdout);
      }
      const wrong = await runCli([
        "get",
        uri,
        "--psk-identity",
        "dev1",
        "--psk",
        "wrong",
        "--handshake-timeout",
        "2",
      ]);
      assert.equal(wrong.code, 3);
      assert.match(
        wrong.stderr,
        /^error: handshake with 127\.0\.0\.1:\d+ failed after ServerHello.*: wrong PSK\?\n$/,
      );
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  needsOpenSsl(
    "get coaps:// to a socket that never answers exits 3: no DTLS response; without a key it is a usage error",
  ),
  async () => {
    // Bound but never read: no answer and no ICMP port unreachable (a closed port fails at once instead,
    // batched_udp_test.ts).
    const listener = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    const silent = await runCli([
      "get",
      `coaps://127.0.0.1:${port}/x`,
      "--psk-identity",
      "dev1",
      "--psk",
      "k",
      "--handshake-timeout",
      "0.5",
    ]);
    assert.equal(silent.code, 3);
    listener.close();
    assert.equal(silent.stderr, `error: no DTLS response from 127.0.0.1:${port}\n`);
    for (
      const args of [
        ["get", `coaps://127.0.0.1:${port}/x`],
        ["get", `coaps://127.0.0.1:${port}/x`, "--psk", "k"],
        ["get", `coaps://127.0.0.1:${port}/x`, "--psk-identity", "a", "--psk-hex", "zz"],
        ["serve", "--port", "0", "--dtls-port", "0"],
        ["serve", "--port", "0", "--psk-file", "/nonexistent.json"],
      ]
    ) {
      const usage = await runCli(args);
      assert.equal(usage.code, 2, `${args.join(" ")}: ${usage.stderr}`);
      assert.match(usage.stderr, /^error: /);
    }
  },
);
