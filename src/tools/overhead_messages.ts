/**
 * The messages `overhead` compares: a CoAP GET and its piggybacked 2.05
 * response, encoded by our codec, and the minimal HTTP/1.1 request and
 * response that carry the same resource and payload.
 * @module
 */
import { parseCoapUri } from "../client/uri.ts";
import { utf8Bytes } from "../bytes.ts";
import { Code } from "../message/code.ts";
import { encode } from "../message/codec.ts";
import { ContentFormat } from "../message/content_format.ts";
import type { Message } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { encodeUint } from "../message/option_value.ts";
import { Type } from "../message/type.ts";

/** The Message ID used in the example exchange; any 16-bit value encodes in the same 2 bytes. */
export const EXAMPLE_MESSAGE_ID = 0x856d;

// A token's length, not its value, sets the size; fixed bytes keep the output reproducible.
const EXAMPLE_TOKEN = [0xda, 0x3d, 0x2c, 0x3b, 0x5e, 0x91, 0x07, 0xc4];

/** What the example exchange asks for and answers. */
export interface ExchangeInit {
  /** coap:// URI of the resource; IP literals are not sent as Uri-Host (RFC 7252 §6.4). */
  readonly uri: string;
  /** The text/plain reading in the response. */
  readonly payload: string;
  /** 0-8 token bytes. */
  readonly tokenLength: number;
}

/** A CoAP request and response, as messages and as encoded bytes. */
export interface CoapExchange {
  readonly request: Message;
  readonly response: Message;
  readonly requestBytes: Uint8Array;
  readonly responseBytes: Uint8Array;
}

/**
 * A CON GET and the ACK carrying 2.05 Content, text/plain (Content-Format 0, which encodes as an empty uint).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { coapExchange } from "./overhead_messages.ts";
 * const exchange = coapExchange({ uri: "coap://192.0.2.1/temperature", payload: "22.5", tokenLength: 4 });
 * assert.equal(exchange.requestBytes.length, 20); // header 4, token 4, Uri-Path 1 + 11
 * assert.equal(exchange.responseBytes.length, 14); // header 4, token 4, Content-Format 1, 0xff, 4
 * ```
 */
export function coapExchange(init: ExchangeInit): CoapExchange {
  const { options } = parseCoapUri(init.uri);
  const token = Uint8Array.from(EXAMPLE_TOKEN.slice(0, init.tokenLength));
  const request: Message = {
    type: Type.CON,
    code: Code.Get,
    messageId: EXAMPLE_MESSAGE_ID,
    token,
    options,
    payload: new Uint8Array(0),
  };
  const response: Message = {
    type: Type.ACK,
    code: Code.Content,
    messageId: EXAMPLE_MESSAGE_ID,
    token,
    options: [{ number: OptionNumber.ContentFormat, value: encodeUint(ContentFormat.TextPlain) }],
    payload: utf8Bytes(init.payload),
  };
  return { request, response, requestBytes: encode(request), responseBytes: encode(response) };
}

/** The HTTP/1.1 texts, with the header lines each one counts. */
export interface HttpExchange {
  readonly request: string;
  readonly response: string;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

/**
 * The minimal HTTP/1.1 equivalent: request line and Host; status line, Content-Type, Content-Length and
 * the body. Nothing else (no Connection: close, no User-Agent, no Date, no charset).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpExchange } from "./overhead_messages.ts";
 * const exchange = httpExchange({ uri: "coap://192.0.2.1/temperature", payload: "22.5" });
 * assert.equal(exchange.request, "GET /temperature HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n");
 * assert.deepEqual([exchange.requestBytes, exchange.responseBytes], [46, 68]);
 * ```
 */
export function httpExchange(init: Pick<ExchangeInit, "uri" | "payload">): HttpExchange {
  const url = new URL(init.uri);
  // A coap: URL's pathname is "" for coap://host; HTTP's request target is then "/".
  const target = (url.pathname || "/") + url.search;
  const body = utf8Bytes(init.payload);
  const request = `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`;
  const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`;
  return {
    request,
    response: head + init.payload,
    requestBytes: utf8Bytes(request).length,
    responseBytes: utf8Bytes(head).length + body.length,
  };
}
