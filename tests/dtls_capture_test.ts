// A coaps exchange over real UDP, captured the way --pcap and --keylog do it (the encrypted
// datagrams from the server's onDatagram hook, NSS key-log lines from its keylog hook), and
// decrypted back into CoAP by tshark.
//
// Certificates, not a PSK: our PSK sessions negotiate ECDHE-PSK-CHACHA20-POLY1305, and tshark
// 4.0.17 derives that session's keys from the key log but then reports "auth tag mismatch" on
// every record (even the Finished; seen with -o tls.debug_file), so nothing decrypts. The
// libcoap peers (GnuTLS and OpenSSL) decrypt those same records, so the fault looks like
// tshark's. The certificate suites start with ECDHE-ECDSA-AES128-CCM8, which it decrypts.
import assert from "node:assert/strict";
import { CoapClient, CoapServer, Site } from "../src/mod.ts";
import { pcapFileHeader, pcapRecord } from "../src/tools/pcap.ts";
import { needs, runCommand } from "./_peers.ts";

Deno.test({
  ...needs(
    "tshark decrypts a captured coaps GET and its 2.05 with the key log",
    ["tshark", "openssl"],
    "tshark openssl",
  ),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coaps-capture-" });
    const at = (file: string) => `${dir}/${file}`;
    const openssl = async (...args: string[]) => {
      const result = await runCommand("openssl", args, 10_000);
      assert.equal(result.code, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
    };
    // A self-signed EC P-256 certificate for 127.0.0.1, which the client also takes as its CA.
    await openssl(
      ..."req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2".split(" "),
      ..."-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1".split(" "),
      ...["-keyout", at("key.pem"), "-out", at("cert.pem")],
    );
    const ciphers: string[] = [];
    const records: Uint8Array[] = [pcapFileHeader()];
    const keylog: string[] = [];
    const site = new Site().add("temperature", { get: () => "22.5" });
    let local = { hostname: "127.0.0.1", port: 0 };
    const server = new CoapServer(site, {
      hostname: "127.0.0.1",
      port: 0,
      dtls: {
        port: 0,
        cert: at("cert.pem"),
        key: at("key.pem"),
        onSession: (event) => event.kind === "established" && ciphers.push(event.cipher!),
        keylog: (line) => keylog.push(line),
        onDatagram: (direction, { data, address }) => {
          const peer = { hostname: address.hostname, port: address.port };
          records.push(pcapRecord({
            time: Date.now(),
            source: direction === "out" ? local : peer,
            destination: direction === "out" ? peer : local,
            payload: data,
            ipId: records.length,
          }));
        },
      },
    });
    const port = server.secure!.address.port;
    local = { hostname: "127.0.0.1", port };
    const client = new CoapClient({ dtls: { ca: at("cert.pem"), handshakeTimeout: 5000 } });
    try {
      const response = await client.get(`coaps://127.0.0.1:${port}/temperature`, { timeout: 5000 });
      assert.equal(response.text(), "22.5");
    } finally {
      client.close();
      server.close();
    }
    try {
      assert.deepEqual(ciphers, ["ECDHE-ECDSA-AES128-CCM8"]);
      assert.ok(records.length >= 8, `a handshake and an exchange: ${records.length - 1} datagrams`);
      assert.ok(
        keylog.some((line) => /^CLIENT_RANDOM [0-9a-f]{64} [0-9a-f]{96}$/.test(line)),
        keylog.join("\n"),
      );
      const pcap = `${dir}/coaps.pcap`;
      const keys = `${dir}/keylog.txt`;
      await Deno.writeFile(pcap, new Uint8Array(records.flatMap((record) => [...record])));
      await Deno.writeTextFile(keys, keylog.join("\n") + "\n");

      // UDP to DTLS, and DTLS application data to CoAP (tshark maps only 5684 by itself).
      const ports = ["-d", `udp.port==${port},dtls`, "-d", `dtls.port==${port},coap`];
      const args = ["-r", pcap, "-o", `tls.keylog_file:${keys}`, ...ports];
      const fields = ["-T", "fields", "-E", "separator=|", "-e", "coap.code", "-e", "coap.opt.uri_path"];
      const decoded = await runCommand(
        "tshark",
        [...args, "-Y", "coap", ...fields, "-e", "data.data"],
        20_000,
      );
      assert.equal(decoded.code, 0, decoded.stderr);
      const lines = decoded.stdout.trim().split("\n");
      // coap.code is the code's number: 1 is GET, 69 is 2.05 Content.
      assert.deepEqual(lines.map((line) => line.split("|").slice(0, 2)), [["1", "temperature"], ["69", ""]]);

      // Without the key log tshark sees DTLS records but no CoAP in them.
      const blind = await runCommand("tshark", ["-r", pcap, ...ports, "-Y", "coap"], 20_000);
      assert.equal(blind.code, 0, blind.stderr);
      assert.equal(blind.stdout.trim(), "");
      const dtls = await runCommand(
        "tshark",
        ["-r", pcap, "-d", `udp.port==${port},dtls`, "-Y", "dtls"],
        20_000,
      );
      assert.ok(dtls.stdout.trim().split("\n").length >= 8, dtls.stdout);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
