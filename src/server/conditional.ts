/**
 * Conditional requests (RFC 7252 §5.10.8) and validation (§5.10.6.2), decided from a resource's current
 * ETag before its handler runs.
 * @module
 */
import { Code } from "../message/code.ts";
import { CoapError } from "./coap_error.ts";
import type { CoapRequest } from "./request.ts";
import type { ResponseInit } from "./resource.ts";

/**
 * What the request's conditions make of a resource whose current ETag is `etag` (undefined: it does not
 * exist). Throws CoapError 4.12 Precondition Failed when If-Match names none of the current ETag (an empty
 * If-Match: when the resource does not exist, §5.10.8.1) or If-None-Match finds the resource existing
 * (§5.10.8.2); returns 2.03 Valid with the ETag for a GET whose ETag options include it (§5.10.6.2,
 * §5.9.1.3: no payload); returns undefined when the handler is to run.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapError, CoapRequest, Code, decode, OptionNumber } from "../mod.ts";
 * import { conditionalAnswer } from "./conditional.ts";
 * // A CON PUT with no token, with If-None-Match.
 * const ifNoneMatch = { number: OptionNumber.IfNoneMatch, value: new Uint8Array(0) };
 * const put = { ...decode(Uint8Array.of(0x40, 0x03, 0, 1)), options: [ifNoneMatch] };
 * const request = new CoapRequest(put, { hostname: "127.0.0.1", port: 5683 }, [], []);
 * // No resource yet: the PUT may create it. One with an ETag exists: 4.12.
 * assert.equal(conditionalAnswer(request, undefined), undefined);
 * assert.throws(
 *   () => conditionalAnswer(request, Uint8Array.of(1)),
 *   (error: CoapError) => error.code === Code.PreconditionFailed,
 * );
 * ```
 */
export function conditionalAnswer(
  request: CoapRequest,
  etag: Uint8Array | undefined,
): ResponseInit | undefined {
  const ifMatch = request.ifMatch;
  if (ifMatch.length > 0 && !ifMatch.some((value) => matches(value, etag))) {
    throw new CoapError(
      Code.PreconditionFailed,
      etag === undefined ? "If-Match: no such resource" : "If-Match: ETag does not match",
    );
  }
  if (request.ifNoneMatch && etag !== undefined) {
    throw new CoapError(Code.PreconditionFailed, "If-None-Match: resource exists");
  }
  if (
    etag !== undefined && request.message.code === Code.Get &&
    request.etags.some((value) => same(value, etag))
  ) {
    return { code: Code.Valid, etag };
  }
  return undefined;
}

/** An If-Match value against the current ETag: an empty one matches any existing resource (§5.10.8.1). */
function matches(value: Uint8Array, etag: Uint8Array | undefined): boolean {
  return etag !== undefined && (value.length === 0 || same(value, etag));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
