/**
 * The responses the server builds itself: the one a handler's result stands
 * for, and error responses with a diagnostic payload.
 * @module
 */
import { Code, isSuccess } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { encodeString, encodeUint, splitUriPath, splitUriQuery } from "../message/option_value.ts";
import type { Outgoing } from "../endpoint/endpoint.ts";
import type { CoapRequest } from "./request.ts";
import type { HandlerResult, ResponseInit } from "./resource.ts";

// Shared, never written: a fresh empty Uint8Array still costs Deno a backing store (see src/bytes.ts).
const EMPTY = new Uint8Array(0);

const DEFAULT_CODES: Record<number, number> = {
  [Code.Get]: Code.Content,
  [Code.Fetch]: Code.Content,
  [Code.Post]: Code.Changed,
  [Code.Put]: Code.Changed,
  [Code.Patch]: Code.Changed,
  [Code.IPatch]: Code.Changed,
  [Code.Delete]: Code.Deleted,
};

/** The response a handler's result stands for (defaults by method; 4.06 when it misses the Accept). */
export function responseFrom(request: CoapRequest, result: HandlerResult): Outgoing {
  const init: ResponseInit = typeof result === "string"
    ? { payload: result, contentFormat: ContentFormat.TextPlain }
    : result instanceof Uint8Array
    ? { payload: result }
    : result ?? {};
  const code = init.code ?? DEFAULT_CODES[request.message.code] ?? Code.Changed;
  const accept = request.accept;
  // RFC 7252 §5.10.4: a representation in another format than the one asked for is not acceptable.
  if (
    accept !== undefined && isSuccess(code) && init.contentFormat !== undefined &&
    init.contentFormat !== accept
  ) {
    return errorMessage(request.message.token, Code.NotAcceptable);
  }
  const options: CoapOption[] = [];
  if (init.etag !== undefined) options.push({ number: OptionNumber.ETag, value: init.etag });
  if (init.locationPath !== undefined) {
    for (const segment of splitUriPath(init.locationPath)) {
      options.push({ number: OptionNumber.LocationPath, value: segment });
    }
  }
  if (init.locationQuery !== undefined) {
    for (const argument of splitUriQuery(init.locationQuery)) {
      options.push({ number: OptionNumber.LocationQuery, value: argument });
    }
  }
  if (init.contentFormat !== undefined) {
    options.push({ number: OptionNumber.ContentFormat, value: encodeUint(init.contentFormat) });
  }
  if (init.maxAge !== undefined) {
    options.push({ number: OptionNumber.MaxAge, value: encodeUint(init.maxAge) });
  }
  const payload = typeof init.payload === "string" ? encodeString(init.payload) : init.payload ?? EMPTY;
  if (init.options !== undefined) options.push(...init.options);
  return { code, token: request.message.token, options, payload };
}

/** A response with `code` and a diagnostic payload (RFC 7252 §5.5.2). */
export function errorMessage(token: Uint8Array, code: number, diagnostic = ""): Outgoing {
  return { code, token, options: [], payload: encodeString(diagnostic) };
}
