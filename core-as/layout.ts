/**
 * The shared-memory contract between the core and its hosts (Deno and the
 * firmware). Valid as both AssemblyScript and TypeScript, so the two sides
 * import the same numbers instead of keeping copies in step.
 *
 * All offsets are bytes from the pointer returned by the core's `sharedBase()`.
 * Header slots are i32; option entries are four u16:
 * (number, header offset, value offset, value length).
 */

/** Largest datagram the core parses or builds (RFC 7252 §4.6 suggests 1152; block-wise covers more). */
export const MESSAGE_CAPACITY = 8192;
/** Options one message may carry before the core reports TOO_MANY_OPTIONS. */
export const MAX_OPTIONS = 512;
/** RFC 7252 §3: tokens are 0 to 8 bytes. */
export const MAX_TOKEN_LENGTH = 8;

/** Header record: one i32 per slot. */
export const HEADER_OFFSET = 0;
export const HEADER_SLOTS = 16;
export const SLOT_VERSION = 0;
export const SLOT_TYPE = 1;
export const SLOT_TOKEN_LENGTH = 2;
export const SLOT_CODE = 3;
export const SLOT_MESSAGE_ID = 4;
export const SLOT_OPTION_COUNT = 5;
export const SLOT_PAYLOAD_OFFSET = 6;
export const SLOT_PAYLOAD_LENGTH = 7;
export const SLOT_ERROR = 8;
export const SLOT_ERROR_OFFSET = 9;
/** For truncation errors: how many bytes the field needed. */
export const SLOT_ERROR_NEEDED = 10;
export const SLOT_LENGTH = 11;

/** Option index: MAX_OPTIONS entries of four u16. */
export const OPTIONS_OFFSET = HEADER_OFFSET + HEADER_SLOTS * 4;
export const OPTION_ENTRY_SIZE = 8;
export const ENTRY_NUMBER = 0;
export const ENTRY_HEADER_OFFSET = 2;
export const ENTRY_VALUE_OFFSET = 4;
export const ENTRY_VALUE_LENGTH = 6;

/** Received datagram; decode offsets are relative to its start. */
export const RX_OFFSET = OPTIONS_OFFSET + MAX_OPTIONS * OPTION_ENTRY_SIZE;
/** Encode input: token first, then option values and payload; entry offsets are relative to its start. */
export const STAGE_OFFSET = RX_OFFSET + MESSAGE_CAPACITY;
/** Encode output. */
export const TX_OFFSET = STAGE_OFFSET + MESSAGE_CAPACITY;
/** Retransmission events written by `due()`: EVENT_CAPACITY pairs of i32 (slot, kind). */
export const EVENTS_OFFSET = TX_OFFSET + MESSAGE_CAPACITY;
export const EVENT_CAPACITY = 256;
export const EVENT_SIZE = 8;
export const EVENT_RETRANSMIT = 1;
export const EVENT_GIVE_UP = 2;
export const SHARED_SIZE = EVENTS_OFFSET + EVENT_CAPACITY * EVENT_SIZE;

/** Results of `schedule()` when it cannot take the message. */
export const SCHEDULE_FULL = -1;
export const SCHEDULE_DUPLICATE = -2;

/** Format errors reported by decode (positive) and encode (negated). */
export const ERR_NONE = 0;
export const ERR_TRUNCATED_HEADER = 1;
export const ERR_VERSION = 2;
export const ERR_TOKEN_LENGTH = 3;
export const ERR_TRUNCATED_TOKEN = 4;
export const ERR_EMPTY_MESSAGE_NOT_EMPTY = 5;
export const ERR_DELTA_NIBBLE_15 = 6;
export const ERR_LENGTH_NIBBLE_15 = 7;
export const ERR_TRUNCATED_OPTION_HEADER = 8;
export const ERR_TRUNCATED_OPTION_VALUE = 9;
export const ERR_OPTION_NUMBER_TOO_LARGE = 10;
export const ERR_EMPTY_PAYLOAD = 11;
export const ERR_MESSAGE_TOO_LARGE = 12;
export const ERR_TOO_MANY_OPTIONS = 13;
