// Option value formats, option number properties, and the registry; the WASM
// core's helpers (used by the firmware) must agree with the TypeScript ones.
import assert from "node:assert/strict";
import {
  blockSize,
  decodeBlock,
  decodeString,
  decodeUint,
  encodeBlock,
  encodeString,
  encodeUint,
  isCritical,
  isNoCacheKey,
  isUnsafe,
  joinUriPath,
  joinUriQuery,
  optionInfo,
  optionName,
  OptionNumber,
  splitUriPath,
  splitUriQuery,
} from "../src/mod.ts";
import { memoryBytes, stageAddress, wasm } from "../src/core/wasm.ts";
import { hex } from "./_hex.ts";
import { randomInt, seededRandom } from "./_random.ts";

Deno.test("uints use the fewest bytes, zero none", () => {
  assert.equal(hex(encodeUint(0)), "");
  assert.equal(hex(encodeUint(1)), "01");
  assert.equal(hex(encodeUint(255)), "ff");
  assert.equal(hex(encodeUint(256)), "0100");
  assert.equal(hex(encodeUint(0xffffff)), "ffffff");
  assert.equal(hex(encodeUint(0x1000000)), "01000000");
  assert.equal(hex(encodeUint(0xffffffff)), "ffffffff");
  assert.equal(decodeUint(Uint8Array.of(0, 0, 1, 44)), 300, "leading zeros are tolerated (RFC 7252 §3.2)");
  assert.throws(() => encodeUint(-1), RangeError);
  assert.throws(() => encodeUint(2 ** 32), RangeError);
  assert.throws(() => encodeUint(1.5), RangeError);
});

Deno.test("Block1/Block2 values: NUM, M and SZX (RFC 7959 §2.2)", () => {
  assert.equal(hex(encodeBlock({ num: 0, more: false, szx: 0 })), "");
  assert.equal(hex(encodeBlock({ num: 0, more: true, szx: 6 })), "0e");
  assert.equal(hex(encodeBlock({ num: 2, more: true, szx: 6 })), "2e");
  assert.equal(hex(encodeBlock({ num: 16, more: false, szx: 2 })), "0102");
  assert.deepEqual(decodeBlock(Uint8Array.of(0x01, 0x0a)), { num: 16, more: true, szx: 2 });
  assert.equal(blockSize(0), 16);
  assert.equal(blockSize(6), 1024);
  assert.throws(() => encodeBlock({ num: 0, more: false, szx: 7 }), RangeError);
  assert.throws(() => encodeBlock({ num: 2 ** 20, more: false, szx: 0 }), RangeError);
});

Deno.test("Uri-Path and Uri-Query split with percent-decoding and join with percent-encoding", () => {
  assert.deepEqual(splitUriPath("/"), []);
  assert.deepEqual(splitUriPath("").length, 0);
  assert.deepEqual(splitUriPath("/sensors/temp").map(decodeString), ["sensors", "temp"]);
  assert.deepEqual(splitUriPath("/a%2Fb/%C3%A9/").map(decodeString), ["a/b", "é", ""]);
  assert.deepEqual(splitUriQuery("?rt=temp&if=sensor%26x").map(decodeString), ["rt=temp", "if=sensor&x"]);
  assert.equal(
    joinUriPath([encodeString("a/b"), encodeString("é"), encodeString("x y")]),
    "/a%2Fb/%C3%A9/x%20y",
  );
  assert.equal(joinUriQuery([encodeString("a=1"), encodeString("b=x&y")]), "a=1&b=x%26y");
  assert.throws(() => splitUriPath("/bad%2"), URIError);
  assert.throws(() => splitUriPath("/bad%zz"), URIError);
  for (const path of ["/a/b", "/x%20y/%25", "/%C3%A9t%C3%A9"]) {
    assert.equal(joinUriPath(splitUriPath(path)), path);
  }
});

Deno.test("critical, unsafe and NoCacheKey come from the option number's bits (RFC 7252 §5.4.6)", () => {
  assert.ok(isCritical(OptionNumber.UriPath) && isUnsafe(OptionNumber.UriPath));
  assert.ok(!isCritical(OptionNumber.ContentFormat) && !isUnsafe(OptionNumber.ContentFormat));
  assert.ok(isNoCacheKey(OptionNumber.Size1), "Size1 (60) is NoCacheKey");
  assert.ok(!isNoCacheKey(OptionNumber.ETag));
  assert.ok(isUnsafe(OptionNumber.Observe) && !isCritical(OptionNumber.Observe));
});

Deno.test("the registry names options and their formats", () => {
  assert.equal(optionName(OptionNumber.Block2), "Block2");
  assert.equal(optionName(2048), "Unknown-2048");
  assert.deepEqual(optionInfo(OptionNumber.MaxAge), {
    number: 14,
    name: "Max-Age",
    format: "uint",
    minLength: 0,
    maxLength: 4,
    repeatable: false,
  });
  assert.equal(optionInfo(OptionNumber.Echo)?.format, "opaque");
  assert.equal(optionInfo(OptionNumber.Oscore)?.name, "OSCORE");
  assert.ok(optionInfo(OptionNumber.UriPath)?.repeatable);
});

Deno.test("the WASM core's option helpers agree with the TypeScript ones", () => {
  const random = seededRandom(41);
  for (let i = 0; i < 20_000; i++) {
    const value = i < 10
      ? [0, 1, 255, 256, 65535, 65536, 0xffffff, 0x1000000, 0xfffffffe, 0xffffffff][i]
      : randomInt(random, 2 ** 32);
    const length = wasm.writeUint(stageAddress, value);
    const written = memoryBytes.slice(stageAddress, stageAddress + length);
    assert.equal(hex(written), hex(encodeUint(value)));
    assert.equal(wasm.uintLength(value), written.length);
    assert.equal(wasm.readUint(stageAddress, length) >>> 0, value);
    const block = { num: randomInt(random, 2 ** 20), more: random() < 0.5, szx: randomInt(random, 7) };
    const blockValue = wasm.blockValue(block.num, block.more ? 1 : 0, block.szx) >>> 0;
    assert.equal(blockValue, decodeUint(encodeBlock(block)));
    assert.deepEqual(
      {
        num: wasm.blockNum(blockValue),
        more: wasm.blockMore(blockValue) === 1,
        szx: wasm.blockSzx(blockValue),
      },
      block,
    );
    assert.equal(wasm.blockSize(block.szx), blockSize(block.szx));
  }
  for (let number = 0; number <= 0xffff; number++) {
    assert.equal(wasm.optionIsCritical(number) === 1, isCritical(number));
    assert.equal(wasm.optionIsUnsafe(number) === 1, isUnsafe(number));
    assert.equal(wasm.optionIsNoCacheKey(number) === 1, isNoCacheKey(number));
  }
});

Deno.test("decodeString agrees with a strict UTF-8 decoder on short and long, ASCII and not, valid and not", () => {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const random = seededRandom(7);
  for (let n = 0; n < 20_000; n++) {
    const length = randomInt(random, 48);
    // Mostly ASCII, so the short path is taken, with a byte from anywhere now and then.
    const bytes = Uint8Array.from(
      { length },
      () => random() < 0.9 ? randomInt(random, 0x80) : randomInt(random, 256),
    );
    let expected: string | undefined;
    try {
      expected = strict.decode(bytes);
    } catch {
      expected = undefined;
    }
    if (expected === undefined) assert.throws(() => decodeString(bytes), TypeError);
    else assert.equal(decodeString(bytes), expected);
  }
});
