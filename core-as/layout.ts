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
export const HEADER_SLOTS = 24;
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
/** receive(): the peer entry the datagram came from (-1 when none could be had). */
export const SLOT_PEER = 12;
/** receive(): 1 when that entry was just given to a new peer (the host drops what it knew of the old one). */
export const SLOT_PEER_NEW = 13;
/** receive(): the dedup handle (REQUEST, RESPONSE, DUPLICATE) or the exchange slot (ACKNOWLEDGED, EXCHANGE_RESET). */
export const SLOT_HANDLE = 14;
/** receive(): the recent-NON handle an RST matched (NON_RESET). */
export const SLOT_NON_HANDLE = 15;
/** receive(): BUSY's advice, in whole seconds, for the 5.03's Max-Age. */
export const SLOT_RETRY_AFTER = 16;
/** Set by the host before receive() or peerFor(): the sender's address length (bytes at ADDRESS_OFFSET) and port. */
export const SLOT_ADDRESS_LENGTH = 17;
export const SLOT_ADDRESS_PORT = 18;

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
/** A peer's address as opaque bytes (the host's choice: text or raw IP), at most ADDRESS_CAPACITY. */
export const ADDRESS_OFFSET = EVENTS_OFFSET + EVENT_CAPACITY * EVENT_SIZE;
export const ADDRESS_CAPACITY = 48;
export const SHARED_SIZE = ADDRESS_OFFSET + ADDRESS_CAPACITY;

/**
 * What receive() decided about a datagram (RFC 7252 §4). Both hosts act on
 * these and nothing else, so they answer every message the same way.
 */
/** Drop it silently (an unmatched ACK, a malformed NON, an empty NON, a duplicate NON …). */
export const ACTION_IGNORE = 0;
/** Answer with an empty RST carrying SLOT_MESSAGE_ID (a ping, a malformed or unprocessable CON). */
export const ACTION_RESET = 1;
/** A new request: hand it up; its answer is cached under SLOT_HANDLE (-1: not kept, the peer table is full). */
export const ACTION_REQUEST = 2;
/** A new CON or NON response (separate, or a notification): hand it up; SLOT_HANDLE as for requests. */
export const ACTION_RESPONSE = 3;
/** A duplicate within its lifetime: a CON gets the reply cached under SLOT_HANDLE again, if there is one. */
export const ACTION_DUPLICATE = 4;
/** An ACK settled exchange SLOT_HANDLE; with a non-zero code it carries the piggybacked response. */
export const ACTION_ACKNOWLEDGED = 5;
/** An RST settled exchange SLOT_HANDLE. */
export const ACTION_EXCHANGE_RESET = 6;
/** An RST matched a recent NON (RFC 7641 §3.6): SLOT_NON_HANDLE names it. */
export const ACTION_NON_RESET = 7;
/** A new request that no table has room for: answer 5.03 with Max-Age SLOT_RETRY_AFTER; never run it. */
export const ACTION_BUSY = 8;

/** Results of peerFor() and allocateMessageId() when they cannot. */
export const PEER_TABLE_FULL = -1;
export const NO_MESSAGE_ID = -1;

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
