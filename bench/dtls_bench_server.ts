/**
 * The server side of bench:dtls: a CoapServer with coaps:// (PSK `argv[0]`)
 * on 127.0.0.1 and a constant /temperature. Prints one JSON line
 * `{ "port": coapsPort }` when up; then answers each line on stdin with one
 * JSON line of `{ rss, sessions, handshaking }` (`gc` first when the line is
 * "gc" and --v8-flags=--expose-gc was given). Session limits are raised so
 * that hundreds of sessions from one loopback address are admitted.
 * @module
 */
import { CoapServer, Site } from "../src/mod.ts";

const key = new TextEncoder().encode(Deno.args[0] ?? "secret");
const site = new Site().add("temperature", { get: () => "22.5" });
const server = new CoapServer(site, {
  hostname: "127.0.0.1",
  port: 0,
  dtls: {
    port: 0,
    psk: key,
    limits: { maxSessions: 100_000, maxSessionsPerAddress: 100_000, maxHandshakes: 10_000 },
  },
});
const encoder = new TextEncoder();
const say = (value: unknown) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
say({ port: server.secure!.address.port });

const gc = (globalThis as { gc?: () => void }).gc;
let pending = "";
for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  pending += chunk;
  let newline;
  while ((newline = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    if (line === "gc") gc?.();
    say({ rss: Deno.memoryUsage().rss, ...server.dtls!.stats });
  }
}
server.close();
