// RFC 7252 §3 message format: parse into the index, serialize from the stage.
import {
  ENTRY_HEADER_OFFSET, ENTRY_NUMBER, ENTRY_VALUE_LENGTH, ENTRY_VALUE_OFFSET,
  ERR_DELTA_NIBBLE_15, ERR_EMPTY_MESSAGE_NOT_EMPTY, ERR_EMPTY_PAYLOAD, ERR_LENGTH_NIBBLE_15,
  ERR_MESSAGE_TOO_LARGE, ERR_NONE, ERR_OPTION_NUMBER_TOO_LARGE, ERR_TOKEN_LENGTH,
  ERR_TOO_MANY_OPTIONS, ERR_TRUNCATED_HEADER, ERR_TRUNCATED_OPTION_HEADER,
  ERR_TRUNCATED_OPTION_VALUE, ERR_TRUNCATED_TOKEN, ERR_VERSION, MAX_OPTIONS, MAX_TOKEN_LENGTH,
  MESSAGE_CAPACITY, OPTION_ENTRY_SIZE, OPTIONS_OFFSET, RX_OFFSET, SLOT_CODE, SLOT_ERROR,
  SLOT_ERROR_NEEDED, SLOT_ERROR_OFFSET, SLOT_LENGTH, SLOT_MESSAGE_ID, SLOT_OPTION_COUNT,
  SLOT_PAYLOAD_LENGTH, SLOT_PAYLOAD_OFFSET, SLOT_TOKEN_LENGTH, SLOT_TYPE, SLOT_VERSION,
  STAGE_OFFSET, TX_OFFSET,
} from "./layout";
import { getSlot, setSlot, SHARED } from "./shared";

const PAYLOAD_MARKER: u8 = 0xff;
const HEADER_SIZE = 4;
const COAP_VERSION = 1;
const EXTEND_BYTE = 13;
const EXTEND_WORD = 14;
const RESERVED_NIBBLE = 15;
const EXTEND_BYTE_BASE = 13;
const EXTEND_WORD_BASE = 269;
const MAX_OPTION_NUMBER = 65535;

@inline function entry(index: i32): usize {
  return SHARED + OPTIONS_OFFSET + <usize>index * OPTION_ENTRY_SIZE;
}

function fail(error: i32, offset: i32, needed: i32): i32 {
  setSlot(SLOT_ERROR, error);
  setSlot(SLOT_ERROR_OFFSET, offset);
  setSlot(SLOT_ERROR_NEEDED, needed);
  return error;
}

/**
 * Parses the `length`-byte datagram at RX into the header slots and the
 * option index. Returns 0, or a format error code with the byte offset
 * (and bytes needed, for truncation) in the error slots.
 */
export function decode(length: i32): i32 {
  const rx = SHARED + RX_OFFSET;
  setSlot(SLOT_LENGTH, length);
  setSlot(SLOT_OPTION_COUNT, 0);
  setSlot(SLOT_PAYLOAD_OFFSET, length);
  setSlot(SLOT_PAYLOAD_LENGTH, 0);
  setSlot(SLOT_ERROR, ERR_NONE);
  if (<u32>length > <u32>MESSAGE_CAPACITY) return fail(ERR_MESSAGE_TOO_LARGE, MESSAGE_CAPACITY, length);
  if (length == 0) return fail(ERR_TRUNCATED_HEADER, 0, HEADER_SIZE);

  // Errors are reported in byte order, so the first byte's fields are checked before the header's length.
  const first = <i32>load<u8>(rx);
  const tokenLength = first & 15;
  setSlot(SLOT_VERSION, first >> 6);
  setSlot(SLOT_TYPE, (first >> 4) & 3);
  setSlot(SLOT_TOKEN_LENGTH, tokenLength);
  if (first >> 6 != COAP_VERSION) return fail(ERR_VERSION, 0, 0);
  if (tokenLength > MAX_TOKEN_LENGTH) return fail(ERR_TOKEN_LENGTH, 0, 0);
  if (length < HEADER_SIZE) return fail(ERR_TRUNCATED_HEADER, length, HEADER_SIZE);
  const code = <i32>load<u8>(rx, 1);
  setSlot(SLOT_CODE, code);
  setSlot(SLOT_MESSAGE_ID, (<i32>load<u8>(rx, 2) << 8) | <i32>load<u8>(rx, 3));
  // RFC 7252 §4.1: an Empty message has nothing after the Message ID.
  if (code == 0 && (tokenLength != 0 || length > HEADER_SIZE)) {
    return fail(ERR_EMPTY_MESSAGE_NOT_EMPTY, tokenLength != 0 ? 0 : HEADER_SIZE, 0);
  }
  let pos = HEADER_SIZE + tokenLength;
  if (pos > length) return fail(ERR_TRUNCATED_TOKEN, HEADER_SIZE, tokenLength);

  let number = 0;
  let count = 0;
  while (pos < length) {
    const byte = <i32>load<u8>(rx + pos);
    if (byte == PAYLOAD_MARKER) {
      // RFC 7252 §3: a marker followed by a zero-length payload is a format error.
      if (pos + 1 == length) return fail(ERR_EMPTY_PAYLOAD, pos, 0);
      setSlot(SLOT_PAYLOAD_OFFSET, pos + 1);
      setSlot(SLOT_PAYLOAD_LENGTH, length - pos - 1);
      break;
    }
    const headerAt = pos;
    pos++;
    let delta = byte >> 4;
    let valueLength = byte & 15;
    if (delta == RESERVED_NIBBLE) return fail(ERR_DELTA_NIBBLE_15, headerAt, 0);
    if (valueLength == RESERVED_NIBBLE) return fail(ERR_LENGTH_NIBBLE_15, headerAt, 0);
    if (delta == EXTEND_BYTE) {
      if (pos + 1 > length) return fail(ERR_TRUNCATED_OPTION_HEADER, headerAt, pos + 1 - headerAt);
      delta = EXTEND_BYTE_BASE + <i32>load<u8>(rx + pos);
      pos += 1;
    } else if (delta == EXTEND_WORD) {
      if (pos + 2 > length) return fail(ERR_TRUNCATED_OPTION_HEADER, headerAt, pos + 2 - headerAt);
      delta = EXTEND_WORD_BASE + ((<i32>load<u8>(rx + pos) << 8) | <i32>load<u8>(rx + pos, 1));
      pos += 2;
    }
    if (valueLength == EXTEND_BYTE) {
      if (pos + 1 > length) return fail(ERR_TRUNCATED_OPTION_HEADER, headerAt, pos + 1 - headerAt);
      valueLength = EXTEND_BYTE_BASE + <i32>load<u8>(rx + pos);
      pos += 1;
    } else if (valueLength == EXTEND_WORD) {
      if (pos + 2 > length) return fail(ERR_TRUNCATED_OPTION_HEADER, headerAt, pos + 2 - headerAt);
      valueLength = EXTEND_WORD_BASE + ((<i32>load<u8>(rx + pos) << 8) | <i32>load<u8>(rx + pos, 1));
      pos += 2;
    }
    number += delta;
    if (number > MAX_OPTION_NUMBER) return fail(ERR_OPTION_NUMBER_TOO_LARGE, headerAt, 0);
    if (pos + valueLength > length) return fail(ERR_TRUNCATED_OPTION_VALUE, pos, valueLength);
    if (count == MAX_OPTIONS) return fail(ERR_TOO_MANY_OPTIONS, headerAt, 0);
    const e = entry(count);
    store<u16>(e, <u16>number, ENTRY_NUMBER);
    store<u16>(e, <u16>headerAt, ENTRY_HEADER_OFFSET);
    store<u16>(e, <u16>pos, ENTRY_VALUE_OFFSET);
    store<u16>(e, <u16>valueLength, ENTRY_VALUE_LENGTH);
    count++;
    pos += valueLength;
  }
  setSlot(SLOT_OPTION_COUNT, count);
  return ERR_NONE;
}

@inline function extendedSize(value: i32): i32 {
  return value < EXTEND_BYTE_BASE ? 0 : value < EXTEND_WORD_BASE ? 1 : 2;
}

@inline function nibble(value: i32): i32 {
  return value < EXTEND_BYTE_BASE ? value : value < EXTEND_WORD_BASE ? EXTEND_BYTE : EXTEND_WORD;
}

function writeExtended(at: usize, value: i32): usize {
  if (value >= EXTEND_WORD_BASE) {
    const rest = value - EXTEND_WORD_BASE;
    store<u8>(at, <u8>(rest >> 8));
    store<u8>(at, <u8>rest, 1);
    return at + 2;
  }
  if (value >= EXTEND_BYTE_BASE) {
    store<u8>(at, <u8>(value - EXTEND_BYTE_BASE));
    return at + 1;
  }
  return at;
}

/** Sorts the staged option entries by number, keeping the order of repeated options (insertion sort: staged options are almost always in order already). */
function sortEntries(count: i32): void {
  for (let i = 1; i < count; i++) {
    const moving = load<u64>(entry(i));
    const number = <i32>load<u16>(entry(i), ENTRY_NUMBER);
    let j = i - 1;
    while (j >= 0 && <i32>load<u16>(entry(j), ENTRY_NUMBER) > number) {
      store<u64>(entry(j + 1), load<u64>(entry(j)));
      j--;
    }
    store<u64>(entry(j + 1), moving);
  }
}

/**
 * Serializes the staged message into TX. The host sets the type, code,
 * Message ID, token length, option count and payload slots, puts the token at
 * the start of the stage and the option values and payload after it.
 * Returns the message length, or a negated format error code.
 */
export function encode(): i32 {
  const stage = SHARED + STAGE_OFFSET;
  const tx = SHARED + TX_OFFSET;
  const end = tx + MESSAGE_CAPACITY;
  const tokenLength = getSlot(SLOT_TOKEN_LENGTH);
  const code = getSlot(SLOT_CODE);
  const count = getSlot(SLOT_OPTION_COUNT);
  const payloadLength = getSlot(SLOT_PAYLOAD_LENGTH);
  if (<u32>tokenLength > <u32>MAX_TOKEN_LENGTH) return -ERR_TOKEN_LENGTH;
  if (<u32>count > <u32>MAX_OPTIONS) return -ERR_TOO_MANY_OPTIONS;
  if (code == 0 && (tokenLength != 0 || count != 0 || payloadLength != 0)) return -ERR_EMPTY_MESSAGE_NOT_EMPTY;

  store<u8>(tx, <u8>((COAP_VERSION << 6) | ((getSlot(SLOT_TYPE) & 3) << 4) | tokenLength));
  store<u8>(tx, <u8>code, 1);
  const messageId = getSlot(SLOT_MESSAGE_ID);
  store<u8>(tx, <u8>(messageId >> 8), 2);
  store<u8>(tx, <u8>messageId, 3);
  memory.copy(tx + HEADER_SIZE, stage, tokenLength);
  let out = tx + HEADER_SIZE + tokenLength;

  sortEntries(count);
  let previous = 0;
  for (let i = 0; i < count; i++) {
    const e = entry(i);
    const number = <i32>load<u16>(e, ENTRY_NUMBER);
    const valueLength = <i32>load<u16>(e, ENTRY_VALUE_LENGTH);
    const valueOffset = <i32>load<u16>(e, ENTRY_VALUE_OFFSET);
    const delta = number - previous;
    if (valueOffset + valueLength > MESSAGE_CAPACITY) return -ERR_TRUNCATED_OPTION_VALUE;
    if (out + 1 + extendedSize(delta) + extendedSize(valueLength) + valueLength > end) return -ERR_MESSAGE_TOO_LARGE;
    store<u8>(out, <u8>((nibble(delta) << 4) | nibble(valueLength)));
    out = writeExtended(writeExtended(out + 1, delta), valueLength);
    memory.copy(out, stage + valueOffset, valueLength);
    out += valueLength;
    previous = number;
  }
  if (payloadLength > 0) {
    const payloadOffset = getSlot(SLOT_PAYLOAD_OFFSET);
    if (<u32>payloadOffset + <u32>payloadLength > <u32>MESSAGE_CAPACITY) return -ERR_TRUNCATED_OPTION_VALUE;
    if (out + 1 + payloadLength > end) return -ERR_MESSAGE_TOO_LARGE;
    store<u8>(out, PAYLOAD_MARKER);
    memory.copy(out + 1, stage + payloadOffset, payloadLength);
    out += 1 + payloadLength;
  }
  return <i32>(out - tx);
}

/**
 * The index of the first option numbered `number` at or after index `from`
 * in the last decoded message, or -1 (the index is sorted by number).
 */
export function findOption(number: i32, from: i32): i32 {
  const count = getSlot(SLOT_OPTION_COUNT);
  for (let i = max(from, 0); i < count; i++) {
    const found = <i32>load<u16>(entry(i), ENTRY_NUMBER);
    if (found == number) return i;
    if (found > number) return -1;
  }
  return -1;
}
