// Option value formats (RFC 7252 §3.2) and option number properties (§5.4.6),
// for hosts that work on raw option bytes, such as the firmware.

/** Bytes a minimal-length uint option needs for `value` (0 for zero). */
export function uintLength(value: u32): i32 {
  return value == 0 ? 0 : value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
}

/** Writes `value` as a minimal-length big-endian uint at `at`; returns its length. */
export function writeUint(at: usize, value: u32): i32 {
  const length = uintLength(value);
  for (let i = 0; i < length; i++) {
    store<u8>(at + <usize>(length - 1 - i), <u8>(value >> (<u32>i << 3)));
  }
  return length;
}

/** Reads a big-endian uint of `length` bytes; only the last four bytes count, as no uint option is longer. */
export function readUint(at: usize, length: i32): u32 {
  let value: u32 = 0;
  for (let i = 0; i < length; i++) value = (value << 8) | <u32>load<u8>(at + <usize>i);
  return value;
}

/** RFC 7959 §2.2: Block1/Block2 value from block number, more flag and size exponent. */
export function blockValue(num: u32, more: bool, szx: u32): u32 {
  return (num << 4) | (more ? 8 : 0) | (szx & 7);
}

/** Block number of a Block1/Block2 value. */
export function blockNum(value: u32): u32 {
  return value >> 4;
}

/** More flag of a Block1/Block2 value. */
export function blockMore(value: u32): bool {
  return (value & 8) != 0;
}

/** Size exponent of a Block1/Block2 value (7 is reserved; RFC 8323 BERT). */
export function blockSzx(value: u32): u32 {
  return value & 7;
}

/** Block size in bytes for a size exponent: 2^(SZX+4). */
export function blockSize(szx: u32): u32 {
  return <u32>16 << (szx & 7);
}

/** RFC 7252 §5.4.6: odd option numbers are critical. */
export function optionIsCritical(number: u32): bool {
  return (number & 1) != 0;
}

/** RFC 7252 §5.4.6: bit 1 marks options a proxy must understand to forward. */
export function optionIsUnsafe(number: u32): bool {
  return (number & 2) != 0;
}

/** RFC 7252 §5.4.6: safe-to-forward options with bits 2-4 all set are not part of the cache key. */
export function optionIsNoCacheKey(number: u32): bool {
  return (number & 0x1e) == 0x1c;
}
