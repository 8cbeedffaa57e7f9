/**
 * RFC 7959 §2.7 on the server: the response to a PUT, POST, FETCH (any
 * method but GET) that needs Block2 is rendered once and kept, and its
 * continuation requests (Block2 NUM > 0, no payload) are served from it,
 * so the handler never runs a second time for one transfer.
 * @module
 */
import { Code } from "../message/code.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeBlock, encodeString } from "../message/option_value.ts";
import type { Outgoing, Peer } from "../endpoint/endpoint.ts";
import type { Blockwise } from "./blockwise.ts";
import type { CoapRequest } from "./request.ts";

/** Limits of the renderings kept for block-wise responses. */
export interface RenderingLimits {
  /** Renderings kept at once; beyond it, the least recently used goes. */
  readonly maxTransfers: number;
  /** Bytes (payload and option values) kept at once; beyond it, the least recently used go. */
  readonly maxBytes: number;
  /** Ms a rendering is kept after its last block was served. */
  readonly lifetime: number;
}

interface Rendering {
  readonly key: string;
  readonly response: Outgoing;
  readonly bytes: number;
  lastServed: number;
}

const NO_TAG = new Uint8Array(0);

/**
 * Whole responses to non-GET requests, kept while their Block2 blocks are
 * fetched. A Map in least-recently-used order: every access moves an entry
 * to the end, so with one lifetime for all the front is also the first to
 * expire, and expiry and eviction only look at the front.
 */
export class Block2Renderings {
  readonly #blockwise: Blockwise;
  readonly #limits: RenderingLimits;
  readonly #renderings = new Map<string, Rendering>();
  #bytes = 0;

  /** `blockwise` cuts the blocks; `limits` bound what is kept and for how long. */
  constructor(blockwise: Blockwise, limits: RenderingLimits) {
    if (!(Number.isInteger(limits.maxTransfers) && limits.maxTransfers >= 1)) {
      throw new RangeError(`maxBlock2Renderings ${limits.maxTransfers} must be an integer ≥ 1`);
    }
    if (!(limits.maxBytes >= 0)) {
      throw new RangeError(`maxBlock2RenderingBytes ${limits.maxBytes} must be ≥ 0`);
    }
    if (!(limits.lifetime >= 0)) {
      throw new RangeError(`block2RenderingLifetime ${limits.lifetime} must be ≥ 0 ms`);
    }
    this.#blockwise = blockwise;
    this.#limits = limits;
  }

  /**
   * The answer to a continuation — a request other than GET asking for
   * Block2 NUM > 0 — from the kept rendering, or 4.08 when there is none;
   * undefined for any other request, which goes to its handler.
   */
  continuation(peer: Peer, request: CoapRequest, now: number): Outgoing | undefined {
    const asked = request.option(OptionNumber.Block2);
    if (request.message.code === Code.Get || asked === undefined || decodeBlock(asked).num === 0) {
      return undefined;
    }
    this.#forgetExpired(now);
    const key = renderingKey(peer, request);
    const rendering = this.#renderings.get(key);
    if (rendering === undefined) {
      // RFC 7959 §2.7: this transfer is atomic, so without the rendering the server lacks what it needs to
      // proceed — §2.9.2's 4.08, "sent them long enough ago that the server has already discarded them".
      return {
        code: Code.RequestEntityIncomplete,
        token: request.message.token,
        options: [],
        payload: encodeString("no response kept for this block-wise transfer; repeat the request"),
      };
    }
    // RFC 7959 §2.4: state may be discarded EXCHANGE_LIFETIME after its last access; this access renews it.
    this.#renderings.delete(key);
    rendering.lastServed = now;
    this.#renderings.set(key, rendering);
    return this.#blockwise.slice(request, { ...rendering.response, token: request.message.token });
  }

  /**
   * The block of `response` the request asked for (Block2 block 0, or the
   * first when it asked for none); a non-GET response that takes more than
   * that block is kept for the continuations. One larger than `maxBytes`
   * cannot be, and is answered with 5.00.
   */
  first(peer: Peer, request: CoapRequest, response: Outgoing, now: number): Outgoing {
    const block = this.#blockwise.slice(request, response);
    const option = block.options.find((o) => o.number === OptionNumber.Block2);
    if (request.message.code === Code.Get || option === undefined || !decodeBlock(option.value).more) {
      return block;
    }
    // The ETag the first block carries goes with the rendering, so every block shows the same one (§2.4).
    const etag = block.options.find((o) => o.number === OptionNumber.ETag)!;
    const kept: Outgoing = response.options.some((o) => o.number === OptionNumber.ETag)
      ? response
      : { ...response, options: [...response.options, etag] };
    const bytes = kept.payload.length + kept.options.reduce((sum, o) => sum + o.value.length, 0);
    if (bytes > this.#limits.maxBytes) {
      return {
        code: Code.InternalServerError,
        token: response.token,
        options: [],
        payload: encodeString(
          `response of ${bytes} bytes is over the ${this.#limits.maxBytes} kept for Block2`,
        ),
      };
    }
    this.#forgetExpired(now);
    const key = renderingKey(peer, request);
    this.#forget(key);
    while (
      this.#renderings.size >= this.#limits.maxTransfers || this.#bytes + bytes > this.#limits.maxBytes
    ) {
      this.#forget(this.#renderings.keys().next().value!);
    }
    this.#renderings.set(key, { key, response: kept, bytes, lastServed: now });
    this.#bytes += bytes;
    return block;
  }

  #forgetExpired(now: number): void {
    for (const rendering of this.#renderings.values()) {
      if (now - rendering.lastServed <= this.#limits.lifetime) return;
      this.#forget(rendering.key);
    }
  }

  #forget(key: string): void {
    const rendering = this.#renderings.get(key);
    if (rendering === undefined) return;
    this.#renderings.delete(key);
    this.#bytes -= rendering.bytes;
  }
}

/**
 * One transfer per client, method, Uri-Path, Uri-Query and Request-Tag (RFC 9175 §3.3), the options a
 * continuation repeats (RFC 7959 §2.7). A FETCH's payload selects what it gets (RFC 8132 §2.3.2), so it is
 * part of the key too — as sent whole; one uploaded in Block1 blocks is not repeated, and not keyed on.
 */
function renderingKey(peer: Peer, request: CoapRequest): string {
  const { code, payload } = request.message;
  const tag = request.option(OptionNumber.RequestTag) ?? NO_TAG;
  const selection = code === Code.Fetch && request.option(OptionNumber.Block1) === undefined
    ? payload
    : NO_TAG;
  return JSON.stringify([peer.key, code, request.path, request.query, hex(tag), hex(selection)]);
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}
