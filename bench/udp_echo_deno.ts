// The Deno floor for bench:server: Deno.listenDatagram, each CON turned into an
// empty-payload ACK 2.05 in place — the runtime's cost per datagram and nothing more.
// usage: deno run -A bench/udp_echo_deno.ts PORT
const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: Number(Deno.args[0]) });
for await (const [data, peer] of conn) {
  const tokenLength = data[0] & 0x0f;
  data[0] = 0x60 | tokenLength;
  data[1] = 0x45;
  conn.send(data.subarray(0, 4 + tokenLength), peer).catch(() => {});
}
