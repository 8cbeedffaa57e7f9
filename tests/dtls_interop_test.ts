// coaps:// interop with libcoap 4.3 built against GnuTLS and against OpenSSL: its clients
// against our DTLS server, our DTLS client against its servers, PSK and certificates.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  dtlsClientTransport,
  DtlsError,
  type DtlsServerOptions,
  type DtlsSessionEvent,
  udpTransport,
} from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { freeCoapsPortPair, needs, runCommand, startProcess, waitForCoap } from "./_peers.ts";

const LIBCOAP = "libcoap3-bin";
const KEY = new TextEncoder().encode("secret");
const PSK = { identity: "dev1", key: KEY };

/** Our demo server with coaps on a free port; `events` collects onSession. */
function ourServer(dtls: DtlsServerOptions = { psk: KEY }, driftEvery?: number) {
  const demo = demoSite({ driftEvery });
  const events: DtlsSessionEvent[] = [];
  const server = new CoapServer(demo.site, {
    hostname: "127.0.0.1",
    port: 0,
    dtls: { port: 0, ...dtls, onSession: (event) => events.push(event) },
  });
  return {
    base: `coaps://127.0.0.1:${server.secure!.address.port}`,
    plain: `coap://127.0.0.1:${server.address.port}`,
    events,
    /** The established sessions' ciphers, waiting a little for the last event. */
    async established(): Promise<string[]> {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return events.filter((event) => event.kind === "established").map((event) => event.cipher!);
    },
    stop() {
      demo.stop();
      server.close();
    },
  };
}

/** A libcoap client with a bounded wait (-B) and a hard kill after 15 s. */
function libcoapClient(command: string, args: string[], env?: Record<string, string>) {
  return runCommand(command, ["-B", "4", ...args], 15_000, env);
}

/** Runs `test` with a libcoap server whose coaps port is `port`; `args` are its credentials. */
async function withLibcoapServer(
  command: string,
  args: string[],
  test: (port: number) => Promise<void>,
): Promise<void> {
  const port = freeCoapsPortPair();
  const peer = startProcess(command, ["-A", "127.0.0.1", "-p", String(port - 1), ...args]);
  try {
    await waitForCoap(port - 1); // it serves coap:// on port - 1 as well: up when that answers
    await test(port);
  } finally {
    await peer.stop();
  }
}

/** libcoap's own log lines ("Dec 01 23:31:11.333 WARN …"), which it prints on stdout too. */
const LOG_LINE = /^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{3} .*$/gm;

/** Readings like "21.7" in libcoap's output (it prints payloads back to back), log lines left out. */
function readings(text: string): number[] {
  return (text.replace(LOG_LINE, "").match(/\d+\.\d/g) ?? []).map(Number);
}

for (const client of ["coap-client-gnutls", "coap-client-openssl"]) {
  Deno.test({
    ...needs(`${client} → our coaps server, PSK: GET, PUT, observe, block-wise -b 64`, [client], LIBCOAP),
    async fn() {
      const server = ourServer({ psk: KEY }, 300);
      const psk = ["-k", "secret", "-u", "dev1"];
      const plain = new CoapClient();
      try {
        const get = await libcoapClient(client, [...psk, `${server.base}/temperature`]);
        assert.equal(get.code, 0, get.stderr);
        const celsius = Number(get.stdout.trim());
        assert.ok(celsius > 15 && celsius < 30, `reading "${get.stdout}" ${get.stderr}`);

        const put = await libcoapClient(client, [
          ...psk,
          "-m",
          "put",
          "-e",
          "23.5",
          `${server.base}/temperature`,
        ]);
        assert.equal(put.code, 0, put.stderr);
        assert.doesNotMatch(put.stdout + put.stderr, /4\.\d\d|5\.\d\d/);
        const offset = Number((await plain.get(`${server.plain}/temperature`)).text());
        assert.ok(offset > 15 + 23.5 && offset < 30 + 23.5, `reading after the coaps PUT: ${offset}`);

        const observed = await libcoapClient(client, [...psk, "-s", "2", `${server.base}/temperature`]);
        assert.equal(observed.code, 0, observed.stderr);
        // The registration response and a notification every 300 ms for 2 s.
        assert.ok(readings(observed.stdout).length >= 3, `notifications: ${observed.stdout}`);

        const large = await libcoapClient(client, [...psk, "-b", "64", `${server.base}/large`]);
        assert.equal(large.code, 0, large.stderr);
        const body = (await plain.get(`${server.plain}/large`)).text();
        assert.ok(body.length >= 500, "/large is big enough for several blocks");
        assert.equal(large.stdout.trimEnd(), body.trimEnd());

        const ciphers = await server.established();
        assert.ok(ciphers.length >= 4, `one session per run: ${JSON.stringify(server.events)}`);
        assert.deepEqual(new Set(ciphers), new Set(["ECDHE-PSK-CHACHA20-POLY1305"]));
        const identities = server.events.filter((event) => event.kind === "established").map((e) =>
          e.identity
        );
        assert.deepEqual(new Set(identities), new Set(["dev1"]));
      } finally {
        plain.close();
        server.stop();
      }
    },
  });
}

Deno.test({
  ...needs(
    "coap-client-gnutls restricted to PSK-AES128-CCM8 by a GnuTLS system priority file → our server",
    ["coap-client-gnutls"],
    LIBCOAP,
  ),
  async fn() {
    const server = ourServer();
    const file = await Deno.makeTempFile({ suffix: ".gnutls-config" });
    try {
      // libcoap sets its own priority string ("NORMAL:+ECDHE-PSK:+PSK:…"), not @SYSTEM, so a
      // [priorities] SYSTEM= line would not reach it; [overrides] applies to every priority string.
      await Deno.writeTextFile(
        file,
        "[overrides]\ntls-disabled-cipher = CHACHA20-POLY1305\ntls-disabled-kx = ECDHE-PSK\n",
      );
      const get = await libcoapClient(
        "coap-client-gnutls",
        ["-k", "secret", "-u", "dev1", `${server.base}/temperature`],
        { GNUTLS_SYSTEM_PRIORITY_FILE: file },
      );
      assert.equal(get.code, 0, get.stderr);
      assert.ok(readings(get.stdout).length === 1, `reading "${get.stdout}" ${get.stderr}`);
      assert.deepEqual(await server.established(), ["PSK-AES128-CCM8"]);
    } finally {
      server.stop();
      await Deno.remove(file);
    }
  },
});

for (const peer of ["coap-server-openssl", "coap-server-gnutls"]) {
  Deno.test({
    ...needs(`our coaps client → ${peer}, PSK: GET /time, observe, block-wise, resumption`, [peer], LIBCOAP),
    async fn() {
      // -d 4: PUT may create resources, so a block-wise upload and download have something to use.
      await withLibcoapServer(peer, ["-k", "secret", "-d", "4"], async (port) => {
        const base = `coaps://127.0.0.1:${port}`;
        const sessions = new Map<string, Uint8Array>();
        const client = new CoapClient({ dtls: { psk: PSK, sessions, handshakeTimeout: 5000 } });
        try {
          const time = await client.get(`${base}/time`, { timeout: 5000 });
          assert.equal(time.codeString, "2.05");
          assert.match(time.text(), /\d\d:\d\d:\d\d/);

          const observation = await client.observe(`${base}/time`);
          assert.ok(observation.active, "libcoap's /time is observable over coaps");
          const times: string[] = [];
          const deadline = setTimeout(() => void observation.cancel(), 8000);
          for await (const notification of observation) {
            times.push(notification.text());
            if (times.length === 3) break;
          }
          clearTimeout(deadline);
          assert.ok(new Set(times).size >= 2, `notifications carry new times: ${times}`);

          // libcoap serves nothing large of its own: upload 1,000 bytes in 64-byte blocks, read them back.
          const body = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(4, "0")}\n`).join("");
          assert.equal(body.length, 1000);
          const put = await client.put(`${base}/big`, body, { blockSize: 64, timeout: 5000 });
          assert.equal(put.codeString, "2.01", put.text());
          const back = await client.get(`${base}/big`, { blockSize: 64, timeout: 5000 });
          assert.equal(back.codeString, "2.05");
          assert.equal(back.text(), body);
        } finally {
          client.close();
        }
        assert.equal(sessions.size, 1, "the session was saved");

        // A second and third connection with the same store: the OpenSSL server resumes.
        for (let round = 0; round < 2; round++) {
          const transport = dtlsClientTransport(udpTransport({ hostname: "127.0.0.1" }), {
            psk: PSK,
            sessions,
            handshakeTimeout: 5000,
          });
          transport.listen(() => {});
          try {
            const handshake = await transport.connect({ hostname: "127.0.0.1", port });
            assert.equal(handshake.cipher, "ECDHE-PSK-CHACHA20-POLY1305");
            // libcoap's GnuTLS server keeps no session cache, so only OpenSSL's resumes.
            if (peer === "coap-server-openssl") {
              assert.equal(handshake.resumed, true, JSON.stringify(handshake));
            } else assert.equal(handshake.resumed, false, JSON.stringify(handshake));
          } finally {
            transport.close();
          }
        }
      });
    },
  });
}

Deno.test({
  ...needs("wrong PSK: our client → coap-server-openssl is told so", ["coap-server-openssl"], LIBCOAP),
  async fn() {
    await withLibcoapServer("coap-server-openssl", ["-k", "secret"], async (port) => {
      const client = new CoapClient({
        dtls: { psk: { identity: "dev1", key: new TextEncoder().encode("wrong") }, handshakeTimeout: 2000 },
      });
      const started = Date.now();
      try {
        await assert.rejects(client.get(`coaps://127.0.0.1:${port}/time`), (error: Error) => {
          assert.ok(error instanceof DtlsError, String(error));
          assert.match(error.message, /failed after ServerHello.*wrong PSK\?/);
          return true;
        });
        assert.ok(Date.now() - started < 4000, "fails within the handshake timeout");
      } finally {
        client.close();
      }
    });
  },
});

Deno.test({
  ...needs("wrong PSK: coap-client-gnutls → our server gets no response", ["coap-client-gnutls"], LIBCOAP),
  async fn() {
    const server = ourServer();
    try {
      const started = Date.now();
      const get = await libcoapClient("coap-client-gnutls", [
        "-k",
        "not-the-secret",
        "-u",
        "dev1",
        `${server.base}/temperature`,
      ]);
      assert.ok(Date.now() - started < 15_000);
      // libcoap exits 0 even so; what matters is that no reading came.
      assert.deepEqual(readings(get.stdout), [], `no reading: ${get.stdout}`);
      assert.deepEqual(await server.established(), []);
      // The right key still works on the same server afterwards.
      const good = await libcoapClient("coap-client-gnutls", [
        "-k",
        "secret",
        "-u",
        "dev1",
        `${server.base}/temperature`,
      ]);
      assert.equal(readings(good.stdout).length, 1, good.stdout + good.stderr);
    } finally {
      server.stop();
    }
  },
});

/** A test CA and EC P-256 server and client certificates for 127.0.0.1, made with the openssl CLI. */
async function makePki(): Promise<
  { dir: string; ca: string; cert: (name: string) => string; key: (name: string) => string }
> {
  const dir = await Deno.makeTempDir({ prefix: "coaps-pki-" });
  const run = async (...args: string[]) => {
    const result = await runCommand("openssl", args, 10_000);
    assert.equal(result.code, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
  };
  const at = (file: string) => `${dir}/${file}`;
  await run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", at("ca.key"));
  await run(
    "req",
    "-x509",
    "-new",
    "-key",
    at("ca.key"),
    "-subj",
    "/CN=coaps test CA",
    "-days",
    "2",
    "-out",
    at("ca.pem"),
  );
  await Deno.writeTextFile(
    at("ext.cnf"),
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n" +
      "extendedKeyUsage=serverAuth,clientAuth\n",
  );
  for (const name of ["server", "client"]) {
    await run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", at(`${name}.key`));
    await run("req", "-new", "-key", at(`${name}.key`), "-subj", "/CN=127.0.0.1", "-out", at(`${name}.csr`));
    await run(
      "x509",
      "-req",
      "-in",
      at(`${name}.csr`),
      "-CA",
      at("ca.pem"),
      "-CAkey",
      at("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      at("ext.cnf"),
      "-out",
      at(`${name}.pem`),
    );
  }
  return { dir, ca: at("ca.pem"), cert: (name) => at(`${name}.pem`), key: (name) => at(`${name}.key`) };
}

Deno.test({
  ...needs(
    "certificates: coap-client-openssl and -gnutls → our server (client certificates required)",
    ["openssl", "coap-client-openssl", "coap-client-gnutls"],
    `openssl ${LIBCOAP}`,
  ),
  async fn() {
    const pki = await makePki();
    const server = ourServer({ cert: pki.cert("server"), key: pki.key("server"), ca: pki.ca });
    try {
      for (const client of ["coap-client-openssl", "coap-client-gnutls"]) {
        const get = await libcoapClient(client, [
          "-c",
          pki.cert("client"),
          "-j",
          pki.key("client"),
          "-C",
          pki.ca,
          `${server.base}/temperature`,
        ]);
        assert.equal(get.code, 0, get.stderr);
        assert.equal(readings(get.stdout).length, 1, `${client}: "${get.stdout}" ${get.stderr}`);
      }
      const ciphers = await server.established();
      assert.equal(ciphers.length, 2, JSON.stringify(server.events));
      for (const cipher of ciphers) assert.match(cipher, /^ECDHE-ECDSA-AES128-(GCM-SHA256|CCM8)$/);

      // Without a client certificate the server (which has a CA) refuses the handshake.
      const anonymous = await libcoapClient("coap-client-openssl", [
        "-C",
        pki.ca,
        `${server.base}/temperature`,
      ]);
      assert.deepEqual(readings(anonymous.stdout), [], anonymous.stdout);
      assert.equal((await server.established()).length, 2);
    } finally {
      server.stop();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
});

for (const peer of ["coap-server-openssl", "coap-server-gnutls"]) {
  Deno.test({
    ...needs(
      `certificates: our client (CA, client certificate) → ${peer}`,
      ["openssl", peer],
      `openssl ${LIBCOAP}`,
    ),
    async fn() {
      const pki = await makePki();
      try {
        const credentials = ["-c", pki.cert("server"), "-j", pki.key("server"), "-C", pki.ca];
        await withLibcoapServer(peer, credentials, async (port) => {
          const client = new CoapClient({
            dtls: { ca: pki.ca, cert: pki.cert("client"), key: pki.key("client"), handshakeTimeout: 5000 },
          });
          try {
            const time = await client.get(`coaps://127.0.0.1:${port}/time`, { timeout: 5000 });
            assert.equal(time.codeString, "2.05");
            assert.match(time.text(), /\d\d:\d\d:\d\d/);
          } finally {
            client.close();
          }
          // A CA that did not sign the server's certificate: the handshake fails on our side.
          const other = await makePki();
          const stranger = new CoapClient({ dtls: { ca: other.ca, handshakeTimeout: 3000 } });
          try {
            await assert.rejects(stranger.get(`coaps://127.0.0.1:${port}/time`), DtlsError);
          } finally {
            stranger.close();
            await Deno.remove(other.dir, { recursive: true });
          }
        });
      } finally {
        await Deno.remove(pki.dir, { recursive: true });
      }
    },
  });
}
