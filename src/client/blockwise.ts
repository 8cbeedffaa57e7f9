/**
 * RFC 7959 on the client: a large request body goes out in Block1 blocks,
 * and the requests for a response's later Block2 blocks are built here
 * (block2_completion.ts fetches them). Each block is one exchange, made by the
 * caller's `send` (which gives it a fresh token), so this file knows no tokens.
 * @module
 */
import { Code } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { blockSize, decodeBlock, encodeBlock, encodeUint } from "../message/option_value.ts";
import type { Outgoing } from "../endpoint/endpoint.ts";
import type { CoapResponse } from "./response.ts";

/** Sends one block's request and resolves with its response; `signal` abandons it (a transfer's deadline). */
export type SendBlock = (message: Outgoing, signal?: AbortSignal) => Promise<CoapResponse>;

const EMPTY = new Uint8Array(0);
const DEFAULT_BLOCK_SZX = 6;

/** The size exponent for a block size of 16 … 1024 bytes (default 1024). */
export function blockSzx(size: number | undefined): number {
  if (size === undefined) return DEFAULT_BLOCK_SZX;
  const szx = Math.log2(size) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > 6) {
    throw new RangeError(`block size ${size} is not 16, 32, … 1024`);
  }
  return szx;
}

/** RFC 7959 §2.5: sends a large body in Block1 blocks, each after the previous one's 2.31 Continue. */
export async function uploadBlock1(send: SendBlock, message: Outgoing, szx: number): Promise<CoapResponse> {
  const body = message.payload;
  let offset = 0;
  while (true) {
    const size = blockSize(szx);
    const num = offset / size;
    const end = Math.min(offset + size, body.length);
    const more = end < body.length;
    const blockOptions: CoapOption[] = [{
      number: OptionNumber.Block1,
      value: encodeBlock({ num, more, szx }),
    }];
    if (num === 0) blockOptions.push({ number: OptionNumber.Size1, value: encodeUint(body.length) });
    const response = await send({
      ...message,
      options: [...message.options, ...blockOptions],
      payload: body.subarray(offset, end),
    });
    if (response.code !== Code.Continue || !more) return response;
    offset = end;
    // The server may ask for smaller blocks in its 2.31 (§2.5); the offset stays a multiple of them.
    const asked = response.option(OptionNumber.Block1);
    if (asked !== undefined) szx = Math.min(szx, decodeBlock(asked).szx);
  }
}

/** What fetches the later blocks of a response, for completeBlock2. */
export interface Continuation {
  /** The request for every later block, but for its token and Block2. */
  readonly follow: Outgoing;
  /** Whether `follow` with Block2 NUM 0 is the whole request again, so a changed answer can be refetched. */
  readonly restartable: boolean;
}

/**
 * The request for the later Block2 blocks of `request`'s response: the same method and options (RFC 7959
 * §2.4) but no Observe (§2.6), and neither the body nor Block1 and Size1 (§2.7) — except that a FETCH sent
 * whole keeps its payload, which selects what it gets (RFC 8132 §2.3.2).
 */
export function continuation(request: Outgoing, uploaded: boolean): Continuation {
  const keepsPayload = request.code === Code.Fetch && !uploaded;
  const dropped = new Set<number>([OptionNumber.Observe, OptionNumber.Block1, OptionNumber.Size1]);
  return {
    follow: {
      ...request,
      options: request.options.filter((o) => !dropped.has(o.number)),
      payload: keepsPayload ? request.payload : EMPTY,
    },
    restartable: request.code === Code.Get || keepsPayload,
  };
}

/** `message` asking for block `num` of size exponent `szx` of the response. */
export function withBlock2(message: Outgoing, num: number, szx: number): Outgoing {
  const options = message.options.filter((o) => o.number !== OptionNumber.Block2);
  options.push({ number: OptionNumber.Block2, value: encodeBlock({ num, more: false, szx }) });
  return { ...message, options };
}
