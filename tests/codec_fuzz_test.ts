// A million random and mutated datagrams through the WASM decoder: no trap, no
// exception other than CoapFormatError, and encode(decode(x)) === x for every x that decodes.
import assert from "node:assert/strict";
import { CoapFormatError, decode, encode } from "../src/mod.ts";
import { hex } from "./_hex.ts";
import { randomBytes, randomInt, randomMessage, seededRandom } from "./_random.ts";

const DATAGRAMS = 1_000_000;
const CORPUS_SIZE = 2000;

/** One mutation of a valid datagram: bit flips, truncation, an inserted, removed or overwritten byte, or a spliced tail. */
function mutate(random: () => number, source: Uint8Array, other: Uint8Array): Uint8Array {
  const datagram = source.slice();
  switch (randomInt(random, 6)) {
    case 0: {
      for (let flips = 1 + randomInt(random, 3); flips > 0; flips--) {
        datagram[randomInt(random, datagram.length)] ^= 1 << randomInt(random, 8);
      }
      return datagram;
    }
    case 1:
      return datagram.subarray(0, randomInt(random, datagram.length + 1));
    case 2: {
      const at = randomInt(random, datagram.length + 1);
      const grown = new Uint8Array(datagram.length + 1);
      grown.set(datagram.subarray(0, at));
      grown[at] = [0xff, 0xd0, 0xe0, 0x0f, 0xf0, randomInt(random, 256)][randomInt(random, 6)];
      grown.set(datagram.subarray(at), at + 1);
      return grown;
    }
    case 3: {
      const at = randomInt(random, datagram.length);
      return Uint8Array.of(...datagram.subarray(0, at), ...datagram.subarray(at + 1));
    }
    case 4:
      datagram[4 + randomInt(random, Math.max(1, datagram.length - 4))] = randomInt(random, 256);
      return datagram;
    default: {
      const cut = randomInt(random, datagram.length + 1);
      return Uint8Array.of(
        ...datagram.subarray(0, cut),
        ...other.subarray(randomInt(random, other.length + 1)),
      );
    }
  }
}

Deno.test(`${DATAGRAMS.toLocaleString("en")} random and mutated datagrams: only format errors, and exact round trips`, () => {
  const random = seededRandom(0xc0a9);
  const corpus = Array.from({ length: CORPUS_SIZE }, () => encode(randomMessage(random)));
  let decoded = 0;
  const reasons = new Map<string, number>();
  for (let i = 0; i < DATAGRAMS; i++) {
    let datagram: Uint8Array;
    if (i % 5 < 2) {
      datagram = randomBytes(random, randomInt(random, 48));
      if (datagram.length > 0 && random() < 0.7) datagram[0] = 0x40 | (datagram[0] & 0x3f); // mostly version 1, to get past byte 0
    } else {
      datagram = mutate(
        random,
        corpus[randomInt(random, CORPUS_SIZE)],
        corpus[randomInt(random, CORPUS_SIZE)],
      );
    }
    let message;
    try {
      message = decode(datagram);
    } catch (error) {
      if (!(error instanceof CoapFormatError)) throw new Error(`input ${hex(datagram)} raised ${error}`);
      reasons.set(error.reason, (reasons.get(error.reason) ?? 0) + 1);
      continue;
    }
    decoded++;
    const again = encode(message);
    if (again.length !== datagram.length || again.some((byte, k) => byte !== datagram[k])) {
      assert.fail(`round trip changed ${hex(datagram)} into ${hex(again)}`);
    }
  }
  // Both paths must be exercised heavily, or the test proves little.
  assert.ok(decoded > DATAGRAMS / 5, `only ${decoded} datagrams decoded`);
  for (
    const reason of [
      "truncated-header",
      "bad-version",
      "bad-token-length",
      "truncated-token",
      "empty-message-not-empty",
      "delta-nibble-15",
      "length-nibble-15",
      "truncated-option-header",
      "truncated-option-value",
      "empty-payload",
    ]
  ) {
    assert.ok((reasons.get(reason) ?? 0) > 100, `reason ${reason} hit ${reasons.get(reason) ?? 0} times`);
  }
});
