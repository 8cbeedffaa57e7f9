/**
 * What the server says before and after a handler runs: the critical
 * options it refuses, and the response a handler's result stands for.
 * @module
 */
import { Code, isSuccess } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import type { CoapOption, Message } from "../message/message.ts";
import { isCritical, OptionNumber } from "../message/option.ts";
import { encodeString, encodeUint, splitUriPath } from "../message/option_value.ts";
import type { Outgoing } from "../endpoint/endpoint.ts";
import type { CoapRequest } from "./request.ts";
import type { HandlerResult, ResponseInit } from "./resource.ts";

// Shared, never written: a fresh empty Uint8Array still costs Deno a backing store (see src/bytes.ts).
const EMPTY = new Uint8Array(0);

/** Critical options this server acts on; any other critical option gets 4.02 (RFC 7252 §5.4.1). */
const UNDERSTOOD = new Set<number>([
  OptionNumber.UriHost,
  OptionNumber.UriPort,
  OptionNumber.UriPath,
  OptionNumber.UriQuery,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);
const PROXY_OPTIONS = new Set<number>([OptionNumber.ProxyUri, OptionNumber.ProxyScheme]);

const DEFAULT_CODES: Record<number, number> = {
  [Code.Get]: Code.Content,
  [Code.Fetch]: Code.Content,
  [Code.Post]: Code.Changed,
  [Code.Put]: Code.Changed,
  [Code.Patch]: Code.Changed,
  [Code.IPatch]: Code.Changed,
  [Code.Delete]: Code.Deleted,
};

/** 4.02 for critical options this server does not act on, 5.05 for proxy requests (RFC 7252 §5.4.1, §5.7). */
export function refuseOptions(message: Message): Outgoing | undefined {
  for (const option of message.options) {
    if (PROXY_OPTIONS.has(option.number)) return errorMessage(message.token, Code.ProxyingNotSupported);
    if (isCritical(option.number) && !UNDERSTOOD.has(option.number)) {
      return errorMessage(message.token, Code.BadOption, `option ${option.number} not supported`);
    }
  }
  return undefined;
}

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
  if (init.contentFormat !== undefined) {
    options.push({ number: OptionNumber.ContentFormat, value: encodeUint(init.contentFormat) });
  }
  if (init.maxAge !== undefined) {
    options.push({ number: OptionNumber.MaxAge, value: encodeUint(init.maxAge) });
  }
  const payload = typeof init.payload === "string" ? encodeString(init.payload) : init.payload ?? EMPTY;
  return { code, token: request.message.token, options: [...options, ...(init.options ?? [])], payload };
}

/** A response with `code` and a diagnostic payload (RFC 7252 §5.5.2). */
export function errorMessage(token: Uint8Array, code: number, diagnostic = ""): Outgoing {
  return { code, token, options: [], payload: encodeString(diagnostic) };
}
