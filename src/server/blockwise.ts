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

// Shared, never written: a fresh empty Uint8Array still costs Deno a backing store (see src/bytes.ts).
const EMPTY = new Uint8Array(0);

/** SZX 6: 1024-byte blocks, the largest RFC 7959 allows outside BERT. */
export const DEFAULT_BLOCK_SZX = 6;

/** What Block1 reassembly decided about one block. */
export type Block1Outcome =
  | { readonly answer: Outgoing }
  | { readonly body: Uint8Array; readonly lastBlock: Uint8Array };

interface Upload {
  readonly parts: Uint8Array[];
  received: number;
  lastActivity: number;
}

/** Splits responses into Block2 blocks and reassembles Block1 uploads. */
export class Blockwise {
  readonly #maxBodySize: number;
  readonly #lifetime: number;
  readonly #uploads = new Map<string, Upload>();

  /** `maxBodySize`: largest reassembled body (4.13 beyond); `lifetime`: ms an idle upload is kept. */
  constructor(maxBodySize: number, lifetime: number) {
    this.#maxBodySize = maxBodySize;
    this.#lifetime = lifetime;
  }

  /**
   * Takes one Block1 block of a request (RFC 7959 §2.5). Returns the answer
   * to send now (2.31 Continue, 4.08, 4.13), or the whole body once the last
   * block is in. Requests without Block1 are returned whole.
   */
  receive(peer: Peer, request: CoapRequest, now: number): Block1Outcome {
    const option = request.option(OptionNumber.Block1);
    const { token } = request.message;
    if (option === undefined) return { body: request.payload, lastBlock: EMPTY };
    this.#forgetIdle(now);
    const block = decodeBlock(option);
    const size = blockSize(block.szx);
    const key = uploadKey(peer, request);
    const declared = request.option(OptionNumber.Size1);
    if (declared !== undefined && decodeUint(declared) > this.#maxBodySize) {
      return { answer: this.#tooLarge(token) };
    }
    let upload = this.#uploads.get(key);
    if (block.num === 0) {
      upload = { parts: [], received: 0, lastActivity: now };
      this.#uploads.set(key, upload);
    }
    // Blocks must arrive in order: this one has to start where the body so far ends (§2.5).
    if (
      upload === undefined || block.num * size !== upload.received ||
      (block.more && request.payload.length !== size)
    ) {
      this.#uploads.delete(key);
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
      this.#uploads.delete(key);
      return { answer: this.#tooLarge(token) };
    }
    upload.parts.push(request.payload.slice());
    upload.received += request.payload.length;
    upload.lastActivity = now;
    if (block.more) {
      return {
        answer: {
          code: Code.Continue,
          token,
          options: [{ number: OptionNumber.Block1, value: encodeBlock(block) }],
          payload: EMPTY,
        },
      };
    }
    this.#uploads.delete(key);
    const body = new Uint8Array(upload.received);
    let at = 0;
    for (const part of upload.parts) {
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

  #forgetIdle(now: number): void {
    for (const [key, upload] of this.#uploads) {
      if (now - upload.lastActivity > this.#lifetime) this.#uploads.delete(key);
    }
  }
}

/** One upload per client, method, resource and Request-Tag (RFC 9175), so concurrent transfers stay apart. */
function uploadKey(peer: Peer, request: CoapRequest): string {
  const tag = request.option(OptionNumber.RequestTag) ?? EMPTY;
  return `${peer.key} ${request.message.code} /${request.path.join("/")} ${Array.from(tag).join(".")}`;
}

/** A 4-byte FNV-1a hash of the representation: equal payloads, equal ETags. */
export function etagOf(payload: Uint8Array): Uint8Array {
  let hash = 0x811c9dc5;
  for (const byte of payload) hash = Math.imul(hash ^ byte, 0x01000193);
  return Uint8Array.of(hash >>> 24, (hash >>> 16) & 0xff, (hash >>> 8) & 0xff, hash & 0xff);
}
