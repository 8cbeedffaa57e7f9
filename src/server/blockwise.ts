/**
 * RFC 7959 on the server: responses larger than a block go out one Block2 at
 * a time (re-rendered per block, with an ETag so clients notice a change), and
 * Block1 request bodies are reassembled per client and resource before the
 * handler sees them.
 * @module
 */
import { Code, isSuccess } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import {
  blockSize,
  decodeBlock,
  decodeUint,
  encodeBlock,
  encodeString,
  encodeUint,
} from "../message/option_value.ts";
import type { Outgoing, Peer } from "../endpoint/endpoint.ts";
import type { CoapRequest } from "./request.ts";
import { type Block1Limits, Block1Uploads } from "./block1_uploads.ts";

// Shared, never written: a fresh empty Uint8Array still costs Deno a backing store (see src/bytes.ts).
const EMPTY = new Uint8Array(0);

/** SZX 6: 1024-byte blocks, the largest RFC 7959 allows outside BERT. */
export const DEFAULT_BLOCK_SZX = 6;

/** What Block1 reassembly decided about one block. */
export type Block1Outcome =
  | { readonly answer: Outgoing }
  | { readonly body: Uint8Array; readonly lastBlock: Uint8Array };

/** Splits responses into Block2 blocks and reassembles Block1 uploads. */
export class Blockwise {
  readonly #maxBodySize: number;
  readonly #uploads: Block1Uploads;

  /** `maxBodySize`: largest reassembled body (4.13 beyond); `limits`: the unfinished uploads' bounds. */
  constructor(maxBodySize: number, limits: Block1Limits) {
    this.#maxBodySize = maxBodySize;
    this.#uploads = new Block1Uploads(limits);
  }

  /** Unfinished uploads and the bytes they hold. */
  get uploads(): { count: number; bytes: number } {
    return { count: this.#uploads.size, bytes: this.#uploads.bytes };
  }

  /**
   * Takes one Block1 block of a request (RFC 7959 §2.5). Returns the answer
   * to send now (2.31 Continue, 4.08, 4.13, or 5.03 when the uploads' bounds
   * leave no room), or the whole body once the last block is in. Requests
   * without Block1 are returned whole.
   */
  receive(peer: Peer, request: CoapRequest, now: number): Block1Outcome {
    const option = request.option(OptionNumber.Block1);
    const { token } = request.message;
    if (option === undefined) return { body: request.payload, lastBlock: EMPTY };
    const block = decodeBlock(option);
    const size = blockSize(block.szx);
    const key = uploadKey(peer, request);
    const declared = request.option(OptionNumber.Size1);
    if (declared !== undefined && decodeUint(declared) > this.#maxBodySize) {
      return { answer: this.#tooLarge(token) };
    }
    let upload = this.#uploads.get(key, now);
    if (block.num === 0) {
      if (upload !== undefined) this.#uploads.delete(upload);
      // A body in one block needs no reassembly, so no bound on unfinished uploads applies to it.
      if (!block.more) {
        if (request.payload.length > this.#maxBodySize) return { answer: this.#tooLarge(token) };
        return { body: request.payload, lastBlock: option };
      }
      const started = this.#uploads.start(key, peer.key, now);
      if ("retryAfter" in started) return { answer: busy(token, started.retryAfter) };
      upload = started;
    }
    // Blocks must arrive in order: this one has to start where the body so far ends (§2.5).
    if (
      upload === undefined || block.num * size !== upload.received ||
      (block.more && request.payload.length !== size)
    ) {
      if (upload !== undefined) this.#uploads.delete(upload);
      return {
        answer: {
          code: Code.RequestEntityIncomplete,
          token,
          options: [],
          payload: encodeString("missing block"),
        },
      };
    }
    if (upload.received + request.payload.length > this.#maxBodySize) {
      this.#uploads.delete(upload);
      return { answer: this.#tooLarge(token) };
    }
    if (block.more) {
      // Over a byte bound the upload stays as it is: the client may send this block again after Max-Age.
      const full = this.#uploads.append(upload, request.payload, now);
      if (full !== undefined) return { answer: busy(token, full.retryAfter) };
      return {
        answer: {
          code: Code.Continue,
          token,
          options: [{ number: OptionNumber.Block1, value: encodeBlock(block) }],
          payload: EMPTY,
        },
      };
    }
    // The last block completes the body, which goes to the handler at once: no bound on what is kept applies.
    this.#uploads.delete(upload);
    const body = new Uint8Array(upload.received + request.payload.length);
    let at = 0;
    for (const part of [...upload.parts, request.payload]) {
      body.set(part, at);
      at += part.length;
    }
    return { body, lastBlock: option };
  }

  /**
   * The block of `response` the request asked for (Block2 NUM and SZX), or
   * the first 1024 bytes when it asked for none and the payload is larger
   * (RFC 7959 §2.4). Adds Block2, Size2 and, if missing, an ETag.
   */
  slice(request: CoapRequest, response: Outgoing): Outgoing {
    const asked = request.option(OptionNumber.Block2);
    const wanted = asked === undefined ? undefined : decodeBlock(asked);
    const szx = Math.min(wanted?.szx ?? DEFAULT_BLOCK_SZX, DEFAULT_BLOCK_SZX);
    const size = blockSize(szx);
    const { payload } = response;
    if (!isSuccess(response.code) || (wanted === undefined && payload.length <= size)) return response;
    const num = wanted?.num ?? 0;
    const start = num * size;
    if (start >= payload.length && !(start === 0 && payload.length === 0)) {
      return {
        code: Code.BadOption,
        token: response.token,
        options: [],
        payload: encodeString("block beyond the end"),
      };
    }
    const more = start + size < payload.length;
    const options: CoapOption[] = response.options.filter((o) => o.number !== OptionNumber.Block2);
    options.push({ number: OptionNumber.Block2, value: encodeBlock({ num, more, szx }) });
    if (num === 0 || request.option(OptionNumber.Size2) !== undefined) {
      options.push({ number: OptionNumber.Size2, value: encodeUint(payload.length) });
    }
    // RFC 7959 §2.4: an ETag lets the client tell blocks of one representation from those of another.
    if (!options.some((o) => o.number === OptionNumber.ETag)) {
      options.push({ number: OptionNumber.ETag, value: etagOf(payload) });
    }
    return { ...response, options, payload: payload.subarray(start, Math.min(start + size, payload.length)) };
  }

  #tooLarge(token: Uint8Array): Outgoing {
    // RFC 7959 §2.9.3: 4.13 with Size1 telling the largest body accepted.
    return {
      code: Code.RequestEntityTooLarge,
      token,
      options: [{ number: OptionNumber.Size1, value: encodeUint(this.#maxBodySize) }],
      payload: encodeString(`at most ${this.#maxBodySize} bytes`),
    };
  }
}

/** One upload per client, method, resource and Request-Tag (RFC 9175), so concurrent transfers stay apart. */
function uploadKey(peer: Peer, request: CoapRequest): string {
  const tag = request.option(OptionNumber.RequestTag) ?? EMPTY;
  return `${peer.key} ${request.message.code} /${request.path.join("/")} ${Array.from(tag).join(".")}`;
}

/** RFC 7252 §5.9.3.4: 5.03 Service Unavailable, Max-Age saying when to try again. */
function busy(token: Uint8Array, retryAfter: number): Outgoing {
  return {
    code: Code.ServiceUnavailable,
    token,
    options: [{ number: OptionNumber.MaxAge, value: encodeUint(retryAfter) }],
    payload: encodeString("too many uploads in progress"),
  };
}

/** A 4-byte FNV-1a hash of the representation: equal payloads, equal ETags. */
export function etagOf(payload: Uint8Array): Uint8Array {
  let hash = 0x811c9dc5;
  for (const byte of payload) hash = Math.imul(hash ^ byte, 0x01000193);
  return Uint8Array.of(hash >>> 24, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff);
}
