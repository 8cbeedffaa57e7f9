// Socket addresses to and from their text (src/transport/libc.ts), past the bound of the caches that keep
// texts and parsed forms between datagrams.
import assert from "node:assert/strict";
import { ADDRESS_CACHE_ENTRIES, C, readSockaddr, writeSockaddr } from "../src/transport/libc.ts";

const view = new DataView(new ArrayBuffer(32));

/** Writes `hostname` as the family's sockaddr and reads it back. */
function roundTrip(family: number, hostname: string, port: number) {
  writeSockaddr(view, 0, family, { hostname, port });
  return readSockaddr(view, 0);
}

Deno.test("IPv4, mapped IPv4 and IPv6 addresses round-trip, and keep doing so after the caches fill", () => {
  // Twice the bound, so each cache starts over at least once, with the first addresses asked again at the end.
  const count = 2 * ADDRESS_CACHE_ENTRIES + 10;
  const ipv4 = (n: number) => `10.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;
  for (const n of [...Array(count).keys(), 0, 1, 2]) {
    assert.deepEqual(roundTrip(C.AF_INET, ipv4(n), n & 0xffff), { hostname: ipv4(n), port: n & 0xffff });
    const mapped = `::ffff:${ipv4(n)}`;
    assert.deepEqual(roundTrip(C.AF_INET6, mapped, 5683), { hostname: mapped, port: 5683 });
  }
  assert.deepEqual(roundTrip(C.AF_INET6, "2001:db8::1", 5683), { hostname: "2001:db8::1", port: 5683 });
  assert.deepEqual(roundTrip(C.AF_INET6, "::1", 1), { hostname: "::1", port: 1 });
  // A plain IPv4 text on an IPv6 socket goes out mapped, and is reported mapped.
  assert.deepEqual(roundTrip(C.AF_INET6, "127.0.0.1", 7), { hostname: "::ffff:127.0.0.1", port: 7 });
  // What is not an address of the family is refused, cached or not.
  for (let i = 0; i < 2; i++) {
    assert.throws(() => writeSockaddr(view, 0, C.AF_INET, { hostname: "::1", port: 1 }), TypeError);
    assert.throws(() => writeSockaddr(view, 0, C.AF_INET6, { hostname: "example.com", port: 1 }), TypeError);
  }
});
