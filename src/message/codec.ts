/**
 * decode() and encode(): the TypeScript face of the WASM codec. A datagram
 * crosses into linear memory once, one call parses it, and the index is read
 * back without re-parsing; encoding stages the fields, makes one call and
 * copies the result out once.
 * @module
 */
import * as layout from "../../core-as/layout.ts";
import { codecCore, type CoreViews } from "../core/wasm.ts";
import { allocateBytes } from "../bytes.ts";
import type { CoapOption, Message } from "./message.ts";
import type { Type } from "./type.ts";

/** Why a datagram is not a well-formed CoAP message (RFC 7252 §3, §4.1). */
export type FormatErrorReason =
  | "truncated-header"
  | "bad-version"
  | "bad-token-length"
  | "truncated-token"
  | "empty-message-not-empty"
  | "delta-nibble-15"
  | "length-nibble-15"
  | "truncated-option-header"
  | "truncated-option-value"
  | "option-number-too-large"
  | "empty-payload"
  | "message-too-large"
  | "too-many-options";

const REASONS: Record<number, FormatErrorReason> = {
  [layout.ERR_TRUNCATED_HEADER]: "truncated-header",
  [layout.ERR_VERSION]: "bad-version",
  [layout.ERR_TOKEN_LENGTH]: "bad-token-length",
  [layout.ERR_TRUNCATED_TOKEN]: "truncated-token",
  [layout.ERR_EMPTY_MESSAGE_NOT_EMPTY]: "empty-message-not-empty",
  [layout.ERR_DELTA_NIBBLE_15]: "delta-nibble-15",
  [layout.ERR_LENGTH_NIBBLE_15]: "length-nibble-15",
  [layout.ERR_TRUNCATED_OPTION_HEADER]: "truncated-option-header",
  [layout.ERR_TRUNCATED_OPTION_VALUE]: "truncated-option-value",
  [layout.ERR_OPTION_NUMBER_TOO_LARGE]: "option-number-too-large",
  [layout.ERR_EMPTY_PAYLOAD]: "empty-payload",
  [layout.ERR_MESSAGE_TOO_LARGE]: "message-too-large",
  [layout.ERR_TOO_MANY_OPTIONS]: "too-many-options",
};

/** A message format error: `reason` says what, `offset` the byte where it was found. */
export class CoapFormatError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "CoapFormatError";
  /** An error of kind `reason` at byte `offset`, described by `message`. */
  constructor(readonly reason: FormatErrorReason, readonly offset: number, message: string) {
    super(message);
  }
}

function describe(
  slots: Int32Array,
  reason: FormatErrorReason,
  offset: number,
  needed: number,
  length: number,
): string {
  const left = Math.max(0, length - offset);
  switch (reason) {
    case "truncated-header":
      return `truncated header: a message needs at least 4 bytes, this one has ${length}`;
    case "bad-version":
      return `unsupported version ${slots[layout.SLOT_VERSION]} at byte 0 (CoAP is version 1)`;
    case "bad-token-length":
      return `reserved token length ${slots[layout.SLOT_TOKEN_LENGTH]} at byte 0 (0-8 allowed)`;
    case "truncated-token":
      return `truncated token at byte ${offset} (needs ${needed}, has ${left})`;
    case "empty-message-not-empty":
      return `empty message (code 0.00) carries ${
        offset === 0 ? `a ${slots[layout.SLOT_TOKEN_LENGTH]}-byte token` : "bytes after the Message ID"
      } at byte ${offset}`;
    case "delta-nibble-15":
      return `option delta nibble 15 at byte ${offset} outside a payload marker`;
    case "length-nibble-15":
      return `option length nibble 15 at byte ${offset}`;
    case "truncated-option-header":
      return `truncated option header at byte ${offset} (needs ${needed}, has ${left})`;
    case "truncated-option-value":
      return `truncated option value at byte ${offset} (needs ${needed}, has ${left})`;
    case "option-number-too-large":
      return `option number above 65535 at byte ${offset}`;
    case "empty-payload":
      return `payload marker at byte ${offset} followed by no payload`;
    case "message-too-large":
      return `message of ${length} bytes exceeds the ${layout.MESSAGE_CAPACITY}-byte limit`;
    case "too-many-options":
      return `more than ${layout.MAX_OPTIONS} options, at byte ${offset}`;
  }
}

/** Runs the core's parser over the datagram; afterwards the slots and option index describe it. */
function parse(core: CoreViews, datagram: Uint8Array): void {
  const length = datagram.length;
  if (length <= layout.MESSAGE_CAPACITY) stage(core.bytes, datagram, core.rx);
  if (core.wasm.decode(length) !== layout.ERR_NONE) throw formatError(core, length);
}

/** The format error the core's last decode of a `length`-byte datagram reported. */
export function formatError(core: CoreViews, length: number): CoapFormatError {
  const { slots } = core;
  const reason = REASONS[slots[layout.SLOT_ERROR]];
  const offset = slots[layout.SLOT_ERROR_OFFSET];
  return new CoapFormatError(
    reason,
    offset,
    describe(slots, reason, offset, slots[layout.SLOT_ERROR_NEEDED], length),
  );
}

// Zero-length views are shared: with no elements there is nothing to mutate, and it saves an allocation.
const EMPTY = new Uint8Array(0);

// The constructor on a buffer read once per message, not `subarray`: `subarray` looks up the species
// constructor and reads `buffer` and `byteOffset` again for every view, ~30 % more per view (measured).
function view(buffer: ArrayBufferLike, start: number, length: number): Uint8Array {
  return length === 0 ? EMPTY : new Uint8Array(buffer, start, length);
}

/**
 * The message the core's last decode indexed. Token, option values and payload are plain `Uint8Array`
 * views into `datagram`'s buffer (even when `datagram` is a subclass such as a Node Buffer), not copies.
 */
export function messageFromIndex(core: CoreViews, datagram: Uint8Array): Message {
  const { slots, optionEntries } = core;
  const { buffer, byteOffset } = datagram;
  const count = slots[layout.SLOT_OPTION_COUNT];
  const options: CoapOption[] = new Array(count);
  for (let i = 0, e = 0; i < count; i++, e += 4) {
    options[i] = {
      number: optionEntries[e],
      value: view(buffer, byteOffset + optionEntries[e + 2], optionEntries[e + 3]),
    };
  }
  const payloadOffset = slots[layout.SLOT_PAYLOAD_OFFSET];
  return {
    type: slots[layout.SLOT_TYPE] as Type,
    code: slots[layout.SLOT_CODE],
    messageId: slots[layout.SLOT_MESSAGE_ID],
    token: view(buffer, byteOffset + 4, slots[layout.SLOT_TOKEN_LENGTH]),
    options,
    payload: view(buffer, byteOffset + payloadOffset, slots[layout.SLOT_PAYLOAD_LENGTH]),
  };
}

/**
 * Parses a datagram. Token, option values and payload are plain `Uint8Array`
 * views into `datagram`'s buffer, not copies (zero-length ones are a shared
 * empty array): the message borrows the datagram, so copy what you keep if
 * the buffer will be reused, and writing into a view writes into the datagram.
 * No caller in src/ writes into them; the UDP transport hands each datagram
 * its own bytes, so messages decoded from it stay valid.
 * Throws CoapFormatError naming the reason and byte offset.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, decode, Type } from "../mod.ts";
 * const message = decode(Uint8Array.of(0x40, 0x01, 0x12, 0x34));
 * assert.deepEqual([message.type, message.code, message.messageId], [Type.CON, Code.Get, 0x1234]);
 * ```
 */
export function decode(datagram: Uint8Array): Message {
  parse(codecCore, datagram);
  return messageFromIndex(codecCore, datagram);
}

/** decode(), plus where each option's header starts, for annotated views of the bytes. */
export function decodeWithLayout(datagram: Uint8Array): { message: Message; optionHeaderOffsets: number[] } {
  parse(codecCore, datagram);
  const message = messageFromIndex(codecCore, datagram);
  const optionHeaderOffsets = message.options.map((_, i) => codecCore.optionEntries[i * 4 + 1]);
  return { message, optionHeaderOffsets };
}

const SMALL_COPY = 24;
/** RFC 7252 §3: the byte between the options and the payload. */
const PAYLOAD_MARKER = 0xff;

/**
 * Copies `bytes` into `target` (linear memory, or an encoded message) at `address`; a byte loop beats
 * `set` for the short values most options have.
 */
export function stage(target: Uint8Array, bytes: Uint8Array, address: number): void {
  if (bytes.length < SMALL_COPY) {
    for (let i = 0; i < bytes.length; i++) target[address + i] = bytes[i];
  } else {
    target.set(bytes, address);
  }
}

function tooLarge(): never {
  throw new CoapFormatError(
    "message-too-large",
    layout.MESSAGE_CAPACITY,
    `message exceeds the ${layout.MESSAGE_CAPACITY}-byte limit`,
  );
}

/**
 * Serializes a message. Options may be in any order; they are written
 * sorted by number, repeated options keeping their order. The result is the
 * caller's to keep or change: the message's token, values and payload are
 * copied, never referenced, and the result may share its ArrayBuffer with
 * other encoded messages (never overlapping). Throws RangeError
 * for fields out of range, CoapFormatError for an Empty message that carries
 * anything or a message over the size limit.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, encode, Type } from "../mod.ts";
 * const bytes = encode({
 *   type: Type.CON,
 *   code: Code.Get,
 *   messageId: 1,
 *   token: new Uint8Array(),
 *   options: [],
 *   payload: new Uint8Array(),
 * });
 * assert.deepEqual(bytes, Uint8Array.of(0x40, 0x01, 0x00, 0x01));
 * ```
 */
export function encode(message: Message): Uint8Array {
  const headLength = encodeStaged(message);
  const { payload } = message;
  const bytes = allocateBytes(payload.length === 0 ? headLength : headLength + 1 + payload.length);
  const { bytes: memoryBytes, tx } = codecCore;
  copyIn(bytes, 0, memoryBytes, tx, headLength);
  if (payload.length > 0) {
    bytes[headLength] = PAYLOAD_MARKER;
    stage(bytes, payload, headLength + 1);
  }
  return bytes;
}

/** How many bytes `message` encodes to, whatever its type and Message ID (they take a fixed 4-byte header). */
export function encodedLength(message: Omit<Message, "type" | "messageId">): number {
  const { payload } = message;
  const headLength = encodeStaged({ ...message, type: 0, messageId: 0 });
  return payload.length === 0 ? headLength : headLength + 1 + payload.length;
}

/**
 * Stages and encodes all of `message` but its payload in the codec instance; returns the length of the header,
 * token and options at TX. The payload never crosses into linear memory: the core only copies it, so
 * the host copies it once, straight from the caller's array into the result, after the marker. The
 * core would check the same limits, in the same order, as it does for a staged payload.
 */
function encodeStaged(message: Message): number {
  const { slots, optionEntries, bytes: memoryBytes, stage: stageAddress, wasm } = codecCore;
  const { token, options, payload } = message;
  if (token.length > layout.MAX_TOKEN_LENGTH) {
    throw new RangeError(`token of ${token.length} bytes is longer than 8`);
  }
  if (options.length > layout.MAX_OPTIONS) {
    throw new CoapFormatError("too-many-options", 0, `more than ${layout.MAX_OPTIONS} options`);
  }
  if (!(message.messageId >= 0 && message.messageId <= 0xffff && Number.isInteger(message.messageId))) {
    throw new RangeError(`Message ID ${message.messageId} is not 0..65535`);
  }
  if (!(message.type >= 0 && message.type <= 3 && Number.isInteger(message.type))) {
    throw new RangeError(`message type ${message.type} is not 0..3`);
  }
  if (!(message.code >= 0 && message.code <= 0xff && Number.isInteger(message.code))) {
    throw new RangeError(`code ${message.code} is not 0..255`);
  }
  slots[layout.SLOT_TYPE] = message.type;
  slots[layout.SLOT_CODE] = message.code;
  slots[layout.SLOT_MESSAGE_ID] = message.messageId;
  slots[layout.SLOT_TOKEN_LENGTH] = token.length;
  slots[layout.SLOT_OPTION_COUNT] = options.length;
  stage(memoryBytes, token, stageAddress);
  let at = token.length;
  for (let i = 0, e = 0; i < options.length; i++, e += 4) {
    const { number, value } = options[i];
    if (!(number >= 0 && number <= 0xffff && Number.isInteger(number))) {
      throw new RangeError(`option number ${number} is not 0..65535`);
    }
    if (at + value.length > layout.MESSAGE_CAPACITY) tooLarge();
    optionEntries[e] = number;
    optionEntries[e + 2] = at;
    optionEntries[e + 3] = value.length;
    stage(memoryBytes, value, stageAddress + at);
    at += value.length;
  }
  // The stage would overflow: the check staging the payload made, kept so errors come in the same order.
  if (at + payload.length > layout.MESSAGE_CAPACITY) tooLarge();
  // The core's first check on a payload (RFC 7252 §4.1: an Empty message has none), made before its options.
  if (message.code === 0 && payload.length > 0) emptyNotEmpty();
  slots[layout.SLOT_PAYLOAD_OFFSET] = at;
  slots[layout.SLOT_PAYLOAD_LENGTH] = 0;
  const length = wasm.encode();
  if (length < 0) {
    if (-length === layout.ERR_MESSAGE_TOO_LARGE) tooLarge();
    emptyNotEmpty();
  }
  // The core's last check: the marker and the payload must fit after the options.
  if (payload.length > 0 && length + 1 + payload.length > layout.MESSAGE_CAPACITY) tooLarge();
  return length;
}

function emptyNotEmpty(): never {
  throw new CoapFormatError(
    "empty-message-not-empty",
    0,
    "cannot encode an Empty message (code 0.00) that carries a token, options or payload",
  );
}

/** Copies `length` bytes from `source` at `from` to `target` at `to`: a byte loop for short runs, else one `set`. */
function copyIn(target: Uint8Array, to: number, source: Uint8Array, from: number, length: number): void {
  if (length < SMALL_COPY * 4) {
    for (let i = 0; i < length; i++) target[to + i] = source[from + i];
  } else {
    target.set(source.subarray(from, from + length), to);
  }
}
