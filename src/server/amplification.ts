/**
 * Amplification control (RFC 7252 §11.3, RFC 9175 §2.4): a peer whose
 * address is not verified gets no answer larger than `factor` times its
 * request. A large answer goes out as a smaller Block2 block that fits (RFC
 * 7959 §2.4 lets the server choose a smaller block than asked for), if that
 * block still holds 64 bytes or more; otherwise a GET or FETCH is answered
 * 4.01 Unauthorized with an Echo option, and the client that repeats the
 * request with that Echo value has proved it receives at its address. A
 * request that is not safe to repeat (PUT, POST …) never gets the challenge,
 * which would run its handler again: it gets the block that fits, down to 16
 * bytes. Verified addresses and open challenges are kept in bounded maps that
 * expire.
 * @module
 */
import { Code, isSuccess } from "../message/code.ts";
import { encodedLength } from "../message/codec.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeBlock, encodeBlock, encodeUint } from "../message/option_value.ts";
import type { Outgoing, Peer } from "../endpoint/endpoint.ts";
import { bytesToHex } from "../tools/hex.ts";
import { etagOf } from "./blockwise.ts";

/** How much an unverified peer may get back, and how long a verification holds. */
export interface AmplificationLimits {
  /** Largest answer ÷ request for an unverified address (default 3, RFC 9175 §2.4); Infinity turns it off. */
  factor: number;
  /** How long an address stays verified after it echoed a challenge (ms, default 1 hour). */
  verifiedFor: number;
  /** Verified addresses and open challenges kept, each (default 10,000; the oldest go first). */
  maxEntries: number;
}

/** The defaults. */
export const DEFAULT_AMPLIFICATION: Readonly<AmplificationLimits> = {
  factor: 3,
  verifiedFor: 60 * 60 * 1000,
  maxEntries: 10_000,
};

const ECHO_BYTES = 8;
/** Blocks smaller than 64 bytes cost more round trips than one Echo exchange does. */
const SMALLEST_USEFUL_SZX = 2;
/** RFC 9175 §2.4: a challenge is answered within seconds; longer-lived ones are of no use to a client. */
const CHALLENGE_LIFETIME_MS = 60_000;
const EMPTY = new Uint8Array(0);

/** A Map used as a bounded, expiring set: insertion order is age order. */
class ExpiringMap<V> {
  readonly #entries = new Map<string, { value: V; expires: number }>();
  constructor(readonly capacity: number) {}

  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires > now) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, expires: number): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expires });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}

/** Decides what an answer to a peer may be, given its request's size. */
export class AmplificationGuard {
  readonly #limits: AmplificationLimits;
  readonly #verified: ExpiringMap<true>;
  readonly #challenges: ExpiringMap<string>;

  constructor(limits: Partial<AmplificationLimits> = {}) {
    this.#limits = { ...DEFAULT_AMPLIFICATION, ...limits };
    if (!(this.#limits.factor >= 1)) {
      throw new RangeError(`amplification factor ${this.#limits.factor} is not ≥ 1`);
    }
    this.#verified = new ExpiringMap(this.#limits.maxEntries);
    this.#challenges = new ExpiringMap(this.#limits.maxEntries);
  }

  /** Checks a request's Echo option against the challenge sent to its peer; a match verifies the address. */
  receive(peer: Peer, echo: Uint8Array | undefined, now: number): void {
    if (echo === undefined) return;
    const expected = this.#challenges.get(peer.key, now);
    if (expected === undefined || expected !== bytesToHex(echo)) return;
    this.#challenges.delete(peer.key);
    this.#verified.set(peer.key, true, now + this.#limits.verifiedFor);
  }

  /**
   * The answer to send to a request of `request.size` bytes: `response` itself when it is small enough, or
   * for a verified address; else an error with its diagnostic cut to fit, a smaller Block2 block of it, or
   * (for a request that is `safe` to repeat) a 4.01 challenge with Echo.
   */
  limit(peer: Peer, request: { size: number; safe: boolean }, response: Outgoing, now: number): Outgoing {
    const budget = this.#limits.factor * request.size;
    if (roughSize(response) <= budget) return response;
    // An error's diagnostic is optional (RFC 7252 §5.5.2): it is cut to fit, for every peer, as the device
    // cuts it (firmware/coap_server.c fit_diagnostic).
    if (!isSuccess(response.code)) return fitDiagnostic(response, budget);
    if (this.#verified.get(peer.key, now) || exactSize(response) <= budget) return response;
    const smallest = request.safe ? SMALLEST_USEFUL_SZX : 0;
    const block = smallerBlock(response, budget, smallest);
    if (block !== undefined) return block;
    // Not even a 16-byte block fits a tiny request: the smallest block still goes, a little over the factor.
    return request.safe ? this.#challenge(peer, response.token, now) : blockOf(response, 0);
  }

  #challenge(peer: Peer, token: Uint8Array, now: number): Outgoing {
    const echo = crypto.getRandomValues(new Uint8Array(ECHO_BYTES));
    this.#challenges.set(peer.key, bytesToHex(echo), now + CHALLENGE_LIFETIME_MS);
    return {
      code: Code.Unauthorized,
      token,
      options: [{ number: OptionNumber.Echo, value: echo }],
      payload: EMPTY,
    };
  }
}

/** An upper bound of the encoded size: header, token, each option at its longest header, payload. */
function roughSize(message: Outgoing): number {
  let size = 4 + message.token.length;
  for (const option of message.options) size += 5 + option.value.length;
  return size + (message.payload.length > 0 ? 1 + message.payload.length : 0);
}

/** `response` with its payload cut so it encodes into `budget` bytes, never inside a UTF-8 sequence. */
function fitDiagnostic(response: Outgoing, budget: number): Outgoing {
  const over = exactSize(response) - budget;
  if (over <= 0) return response;
  const { payload } = response;
  let length = Math.max(0, payload.length - over);
  while (length > 0 && (payload[length] & 0xc0) === 0x80) length--;
  return { ...response, payload: payload.subarray(0, length) };
}

function exactSize(message: Outgoing): number {
  return encodedLength(message);
}

/** The largest Block2 block of `response` (RFC 7959 §2.4) of at least 16 << smallestSzx bytes that fits. */
function smallerBlock(response: Outgoing, budget: number, smallestSzx: number): Outgoing | undefined {
  for (let szx = currentSzx(response) - 1; szx >= smallestSzx; szx--) {
    const block = blockOf(response, szx);
    if (exactSize(block) <= budget) return block;
  }
  return undefined;
}

function currentSzx(response: Outgoing): number {
  const option = response.options.find((o) => o.number === OptionNumber.Block2);
  return option === undefined ? 7 : decodeBlock(option.value).szx;
}

/**
 * Block `szx` of `response` — itself a whole representation or one block of it — starting where it
 * starts: NUM scaled to the smaller size, with Size2 and an ETag as the block-wise server adds them.
 */
function blockOf(response: Outgoing, szx: number): Outgoing {
  const option = response.options.find((o) => o.number === OptionNumber.Block2);
  const rest: CoapOption[] = response.options.filter((o) => o.number !== OptionNumber.Block2);
  let num = 0;
  let more = false;
  if (option === undefined) {
    rest.push({ number: OptionNumber.Size2, value: encodeUint(response.payload.length) });
    if (!rest.some((o) => o.number === OptionNumber.ETag)) {
      rest.push({ number: OptionNumber.ETag, value: etagOf(response.payload) });
    }
  } else {
    const current = decodeBlock(option.value);
    num = current.num << (current.szx - szx);
    more = current.more;
  }
  const size = 16 << szx;
  return {
    ...response,
    options: [...rest, {
      number: OptionNumber.Block2,
      value: encodeBlock({ num, more: more || response.payload.length > size, szx }),
    }],
    payload: response.payload.subarray(0, size),
  };
}
