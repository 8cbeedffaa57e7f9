/**
 * RFC 7959 §2.4 on the client: a response that comes in Block2 blocks is
 * fetched to the end and returned whole — within the caller's limits, since
 * it is the server that decides how many blocks there are. Each block must be
 * the one asked for, and the body may grow no larger than `maxBodySize`
 * (checked against Size2 as soon as one arrives) nor take longer than
 * `transferTimeout`.
 * @module
 */
import type { Clock } from "../endpoint/clock.ts";
import { OptionNumber } from "../message/option.ts";
import { type Block, blockSize, decodeBlock, decodeUint } from "../message/option_value.ts";
import { addressKey } from "../transport/transport.ts";
import { bytesToHex } from "../tools/hex.ts";
import { type Continuation, type SendBlock, withBlock2 } from "./blockwise.ts";
import { CoapResponse } from "./response.ts";
import { BlockwiseError, TransferLimitError } from "./transfer_errors.ts";

/** The largest body the client reassembles unless told otherwise: 16 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024;
/** The longest a block-wise transfer may take unless told otherwise: 5 minutes. */
export const DEFAULT_TRANSFER_TIMEOUT_MS = 5 * 60_000;

const EMPTY = new Uint8Array(0);
const MAX_BLOCK2_RESTARTS = 3;
/** RFC 7959 §2.2: SZX 7 is reserved (BERT uses it over TCP only, RFC 8323). */
const MAX_SZX = 6;
/** The body buffer starts this large when no Size2 tells better, and doubles as needed. */
const INITIAL_CAPACITY = 16 * 1024;

/** What bounds one reassembly. */
export interface Block2Limits {
  /** Largest body accepted, in bytes. */
  readonly maxBodySize: number;
  /** Longest the whole transfer may take, in ms, from the first block's arrival. */
  readonly transferTimeout: number;
  /** The clock the deadline runs on (the endpoint's). */
  readonly clock: Clock;
  /** Stops the transfer: the caller's signal, or a newer notification. */
  readonly signal?: AbortSignal;
  /** The SZX the first request asked for (early negotiation, §2.4); undefined when it had no Block2. */
  readonly askedSzx?: number;
}

/**
 * RFC 7959 §2.4: fetches the remaining Block2 blocks of a response and
 * returns it whole; if the ETag changes mid-way, it starts over when the
 * request can be repeated, and fails when it cannot. Rejects with
 * TransferLimitError over a limit, BlockwiseError for a block out of place.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapResponse, Code, decode, decodeBlock, encodeBlock, OptionNumber, type Outgoing, realClock } from "../mod.ts";
 * import { continuation } from "./blockwise.ts";
 * import { completeBlock2 } from "./block2_completion.ts";
 * // A server's three blocks of 16 bytes, the last one holding 4.
 * const block = (num: number) =>
 *   new CoapResponse({
 *     ...decode(Uint8Array.of(0x60, Code.Content, 0, 0)), // an ACK with 2.05 and no token
 *     options: [{ number: OptionNumber.Block2, value: encodeBlock({ num, more: num < 2, szx: 0 }) }],
 *     payload: new Uint8Array(num < 2 ? 16 : 4),
 *   }, { hostname: "127.0.0.1", port: 5683 });
 * const send = (message: Outgoing) =>
 *   Promise.resolve(block(decodeBlock(message.options.find((o) => o.number === OptionNumber.Block2)!.value).num));
 * const request: Outgoing = { code: Code.Get, token: new Uint8Array(), options: [], payload: new Uint8Array() };
 * const limits = { maxBodySize: 1024, transferTimeout: 1000, clock: realClock };
 * const whole = await completeBlock2(send, continuation(request, false), block(0), limits);
 * assert.equal(whole.payload.length, 16 + 16 + 4);
 * await assert.rejects(
 *   completeBlock2(send, continuation(request, false), block(0), { ...limits, maxBodySize: 20 }),
 *   /response body exceeds maxBodySize 20 bytes \(16 bytes received, block 1 brings 16 more\)/,
 * );
 * ```
 */
export async function completeBlock2(
  send: SendBlock,
  { follow, restartable }: Continuation,
  first: CoapResponse,
  limits: Block2Limits,
): Promise<CoapResponse> {
  const option = first.option(OptionNumber.Block2);
  if (!first.isSuccess || option === undefined) return first;
  const start = decodeBlock(option);
  if (!start.more && start.num === 0) return first;
  const transfer = new Transfer(limits, addressKey(first.peer));
  try {
    let response = first;
    let asked = { num: 0, szx: limits.askedSzx ?? MAX_SZX };
    for (let restarts = 0; restarts <= MAX_BLOCK2_RESTARTS; restarts++) {
      const etag = bytesToHex(response.option(OptionNumber.ETag) ?? EMPTY);
      const body = new BodyBuffer(limits.maxBodySize);
      let block = transfer.check(response, asked, body);
      let changed = false;
      while (block.more) {
        asked = { num: body.length / blockSize(block.szx), szx: block.szx };
        const next = await send(withBlock2(follow, asked.num, asked.szx), transfer.signal);
        if (!next.isSuccess || next.option(OptionNumber.Block2) === undefined) return next;
        if (bytesToHex(next.option(OptionNumber.ETag) ?? EMPTY) !== etag) {
          changed = true;
          break;
        }
        block = transfer.check(next, asked, body);
      }
      if (!changed) {
        return new CoapResponse({
          ...response.message,
          options: response.message.options.filter((o) => o.number !== OptionNumber.Block2),
          payload: body.bytes(),
        }, response.peer);
      }
      if (!restartable) {
        // RFC 7959 §2.7: a PUT's or POST's answer is one atomic transfer; asking anew would redo the request.
        throw new Error(
          `the response from ${transfer.from} changed (new ETag) during its block-wise transfer`,
        );
      }
      // The representation changed under us: start over from block 0.
      asked = { num: 0, szx: block.szx };
      response = await send(withBlock2(follow, 0, block.szx), transfer.signal);
      if (!response.isSuccess || response.option(OptionNumber.Block2) === undefined) return response;
    }
    throw new Error(`the representation kept changing during a block-wise transfer from ${transfer.from}`);
  } finally {
    transfer.end();
  }
}

/** One reassembly's deadline and the checks every block passes. */
class Transfer {
  readonly signal: AbortSignal;
  readonly #limits: Block2Limits;
  readonly #deadline = new AbortController();
  readonly #timer: unknown;
  #blocks = 0;
  #bytes = 0;

  constructor(limits: Block2Limits, readonly from: string) {
    this.#limits = limits;
    this.signal = limits.signal
      ? AbortSignal.any([limits.signal, this.#deadline.signal])
      : this.#deadline.signal;
    this.#timer = limits.clock.setTimer(() => {
      this.#deadline.abort(
        new TransferLimitError(
          "transferTimeout",
          limits.transferTimeout,
          `block-wise transfer from ${from}`,
          `${this.#blocks} blocks, ${this.#bytes} bytes received`,
        ),
      );
    }, limits.transferTimeout);
  }

  /**
   * RFC 7959 §2.4: the server answers with the size asked for or a smaller one, and with a smaller one the
   * block number counts in that size — so the block must start at the offset asked for. Every block but the
   * last fills its size (§2.2), which keeps the next offset a multiple of it. Returns the block.
   */
  check(response: CoapResponse, asked: { num: number; szx: number }, body: BodyBuffer): Block {
    const block = decodeBlock(response.option(OptionNumber.Block2)!);
    const askedSize = blockSize(asked.szx);
    const size = blockSize(block.szx);
    const where = `block-wise transfer from ${this.from}`;
    if (block.szx > asked.szx || block.num * size !== asked.num * askedSize) {
      throw new BlockwiseError(
        `${where}: asked for block ${asked.num} of ${askedSize} bytes, got block ${block.num} of ${
          block.szx > MAX_SZX ? `SZX ${block.szx} (reserved)` : `${size} bytes`
        }`,
      );
    }
    const length = response.payload.length;
    if (block.more ? length !== size : length > size) {
      throw new BlockwiseError(
        `${where}: block ${block.num} of ${size} bytes carries ${length}${
          block.more ? ", with more to come" : ""
        }`,
      );
    }
    const size2 = response.option(OptionNumber.Size2);
    const { maxBodySize } = this.#limits;
    if (size2 !== undefined && decodeUint(size2) > maxBodySize) {
      throw new TransferLimitError(
        "maxBodySize",
        maxBodySize,
        "response body",
        `Size2 says ${decodeUint(size2)}`,
      );
    }
    if (body.length + length > maxBodySize) {
      throw new TransferLimitError(
        "maxBodySize",
        maxBodySize,
        "response body",
        `${body.length} bytes received, block ${block.num} brings ${length} more`,
      );
    }
    if (size2 !== undefined) body.reserve(decodeUint(size2));
    body.append(response.payload);
    this.#blocks++;
    this.#bytes += length;
    return block;
  }

  end(): void {
    this.#limits.clock.cancel(this.#timer);
  }
}

/** The body as it arrives, in one buffer that grows by doubling up to the limit, so no copy is made at the end. */
class BodyBuffer {
  #buffer = EMPTY;
  #length = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.#length;
  }

  /** Makes room for `total` bytes at once (Size2 said so), within the limit. */
  reserve(total: number): void {
    if (total > this.#buffer.length) this.#resize(Math.min(total, this.limit));
  }

  append(bytes: Uint8Array): void {
    const needed = this.#length + bytes.length;
    if (needed > this.#buffer.length) {
      this.#resize(Math.min(Math.max(needed, 2 * this.#buffer.length, INITIAL_CAPACITY), this.limit));
    }
    this.#buffer.set(bytes, this.#length);
    this.#length = needed;
  }

  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  #resize(capacity: number): void {
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes());
    this.#buffer = grown;
  }
}
