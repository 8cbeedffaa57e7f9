// Every message format error (RFC 7252 §3, §4.1) has its own reason and the byte offset where it was found.
import assert from "node:assert/strict";
import { CoapFormatError, Code, decode, encode, Type } from "../src/mod.ts";
import { encodedLength } from "../src/message/codec.ts";
import { bytes, hex } from "./_hex.ts";

const cases: [string, string, string, number, RegExp][] = [
  ["nothing", "", "truncated-header", 0, /needs at least 4 bytes, this one has 0/],
  ["one byte", "40", "truncated-header", 1, /has 1/],
  ["three bytes", "400112", "truncated-header", 3, /has 3/],
  ["version 2", "80011234", "bad-version", 0, /version 2 at byte 0/],
  ["version 0", "00011234", "bad-version", 0, /version 0/],
  ["TKL 9", "49011234000000000000000000", "bad-token-length", 0, /token length 9/],
  ["TKL 15 in a 2-byte datagram", "4f01", "bad-token-length", 0, /token length 15/],
  ["token past the end", "44011234abcd12", "truncated-token", 4, /needs 4, has 3/],
  ["Empty message with a token", "41001234aa", "empty-message-not-empty", 0, /1-byte token/],
  ["Empty ACK with a byte after the MID", "6000123400", "empty-message-not-empty", 4, /after the Message ID/],
  ["delta nibble 15", "40011234f1", "delta-nibble-15", 4, /delta nibble 15 at byte 4/],
  ["length nibble 15", "400112341f", "length-nibble-15", 4, /length nibble 15 at byte 4/],
  ["missing 1-byte delta extension", "40011234d0", "truncated-option-header", 4, /needs 2, has 1/],
  ["missing 2-byte delta extension", "40011234e000", "truncated-option-header", 4, /needs 3, has 2/],
  ["missing length extension", "40011234b1", "truncated-option-value", 5, /needs 1, has 0/],
  ["missing 1-byte length extension", "400112341d", "truncated-option-header", 4, /needs 2, has 1/],
  ["value past the end", "40011234136161", "truncated-option-value", 5, /needs 3, has 2/],
  ["option number 65804", "40011234e0ffff", "option-number-too-large", 4, /above 65535 at byte 4/],
  ["option number 65535 + 1", "40011234e0fef210", "option-number-too-large", 7, /at byte 7/],
  ["payload marker, no payload", "40011234ff", "empty-payload", 4, /marker at byte 4 followed by no payload/],
  ["payload marker after an option", "40011234b161ff", "empty-payload", 6, /byte 6/],
];

for (const [what, vector, reason, offset, text] of cases) {
  Deno.test(`format error: ${what} → ${reason} at byte ${offset}`, () => {
    assert.throws(() => decode(bytes(vector)), (error: unknown) => {
      assert.ok(error instanceof CoapFormatError);
      assert.equal(error.reason, reason);
      assert.equal(error.offset, offset);
      assert.match(error.message, text);
      return true;
    });
  });
}

Deno.test("format error: over the 8192-byte limit → message-too-large", () => {
  const datagram = new Uint8Array(8193);
  datagram.set(bytes("40011234ff"));
  assert.throws(() => decode(datagram), { reason: "message-too-large", offset: 8192 });
});

Deno.test("format error: more than 512 options → too-many-options", () => {
  const datagram = new Uint8Array(4 + 513);
  datagram.set(bytes("40011234"));
  assert.throws(() => decode(datagram), { reason: "too-many-options", offset: 4 + 512 });
  assert.equal(decode(datagram.subarray(0, 4 + 512)).options.length, 512);
});

Deno.test("a failed decode leaves the next one unaffected", () => {
  assert.throws(() => decode(bytes("44011234abcd12")));
  assert.equal(decode(bytes("40011234")).messageId, 0x1234);
});

const valid = {
  type: Type.CON,
  code: Code.Get,
  messageId: 1,
  token: new Uint8Array(),
  options: [],
  payload: new Uint8Array(),
};

Deno.test("encode refuses what cannot be a well-formed message", () => {
  assert.throws(() => encode({ ...valid, token: new Uint8Array(9) }), RangeError);
  assert.throws(() => encode({ ...valid, messageId: 65536 }), RangeError);
  assert.throws(() => encode({ ...valid, code: 256 }), RangeError);
  assert.throws(() => encode({ ...valid, type: 4 as Type }), RangeError);
  assert.throws(
    () => encode({ ...valid, options: [{ number: 65536, value: new Uint8Array() }] }),
    RangeError,
  );
  assert.throws(() => encode({ ...valid, code: Code.Empty, token: new Uint8Array(1) }), {
    reason: "empty-message-not-empty",
  });
  assert.throws(() => encode({ ...valid, code: Code.Empty, payload: new Uint8Array(1) }), {
    reason: "empty-message-not-empty",
  });
  assert.throws(() => encode({ ...valid, payload: new Uint8Array(8188) }), { reason: "message-too-large" });
  assert.equal(encode({ ...valid, payload: new Uint8Array(8187) }).length, 8192);
});

Deno.test("encode: the payload's limit counts the options before it; an Empty message's payload is refused first", () => {
  // 4 header bytes, If-Match of 300 bytes (1 + 2 extension + 300), the marker: 7884 bytes of payload fill 8192.
  const options = [{ number: 1, value: new Uint8Array(300).fill(7) }];
  const full = encode({ ...valid, options, payload: new Uint8Array(7884).fill(9) });
  assert.equal(full.length, 8192);
  assert.deepEqual([full[306], full[307], full[308], full[8191]], [7, 0xff, 9, 9]);
  assert.equal(encodedLength({ ...valid, options, payload: new Uint8Array(7884) }), 8192);
  assert.throws(() => encode({ ...valid, options, payload: new Uint8Array(7885) }), {
    reason: "message-too-large",
  });
  assert.throws(() => encodedLength({ ...valid, options, payload: new Uint8Array(7885) }), {
    reason: "message-too-large",
  });
  assert.throws(() => encode({ ...valid, code: Code.Empty, options, payload: new Uint8Array(1) }), {
    reason: "empty-message-not-empty",
  });
  // Too large for the stage comes before the Empty message's content, as when the payload was staged.
  assert.throws(() => encode({ ...valid, code: Code.Empty, payload: new Uint8Array(8193) }), {
    reason: "message-too-large",
  });
  // A failed encode leaves the next one unaffected.
  assert.equal(hex(encode({ ...valid, payload: Uint8Array.of(0x61) })), "40010001ff61");
});
