/**
 * What a resource is: handlers per method, plus the RFC 6690 link attributes
 * that /.well-known/core advertises.
 * @module
 */
import type { CoapOption } from "../message/message.ts";
import type { CoapRequest } from "./request.ts";

/** A handler's answer in full. */
export interface ResponseInit {
  /** Default: 2.05 for GET/FETCH, 2.04 for PUT/POST/PATCH, 2.02 for DELETE. */
  code?: number;
  /** The response body; a string is sent as UTF-8. */
  payload?: string | Uint8Array;
  /** Content-Format of the payload (RFC 7252 §5.10.3). */
  contentFormat?: number;
  /** Max-Age in seconds (RFC 7252 §5.10.5; 60 when absent). */
  maxAge?: number;
  /** ETag of the representation (RFC 7252 §5.10.6). */
  etag?: Uint8Array;
  /** Location-Path of a created resource, "/a/b". */
  locationPath?: string;
  /** Location-Query of a created resource, "a=1&b=2" (RFC 7252 §5.10.7), percent-encoded like a URI query. */
  locationQuery?: string;
  /** Any further options. */
  options?: CoapOption[];
}

/**
 * What a handler may return: a ResponseInit; a string (text/plain with the
 * default code); bytes (the default code, no Content-Format); or nothing.
 */
export type HandlerResult = ResponseInit | string | Uint8Array | void;

/** A method handler, sync or async. Throw CoapError to answer with an error code. */
export type Handler = (request: CoapRequest) => HandlerResult | Promise<HandlerResult>;

/** A resource: any of the method handlers, and its link attributes. */
export interface Resource {
  /** Answers GET. */
  get?: Handler;
  /** Answers POST. */
  post?: Handler;
  /** Answers PUT. */
  put?: Handler;
  /** Answers DELETE. */
  delete?: Handler;
  /** Answers FETCH (RFC 8132). */
  fetch?: Handler;
  /** Answers PATCH (RFC 8132). */
  patch?: Handler;
  /** Answers iPATCH (RFC 8132). */
  ipatch?: Handler;
  /**
   * The resource's current ETag, or undefined while it does not exist (a PUT may create it). Declared, it
   * lets the server answer conditional requests before any handler runs (conditional.ts): If-Match and
   * If-None-Match that fail get 4.12, a GET whose ETag options name the current ETag gets 2.03 Valid.
   */
  etag?: (request: CoapRequest) => Uint8Array | undefined;
  /**
   * Critical options beyond the server's own that this resource's handlers act on (RFC 7252 §5.4.1: which
   * critical options a resource understands is part of its definition); any other still gets 4.02.
   */
  criticalOptions?: readonly number[];
  /** Human-readable title. */
  title?: string;
  /** Resource type(s). */
  rt?: string | string[];
  /** Interface description(s). */
  if?: string | string[];
  /** Content-Format(s) the resource serves. */
  ct?: number | number[];
  /** Estimated size in bytes. */
  sz?: number;
  /** Observable (RFC 7641). */
  obs?: boolean;
}

/** Handler names on a Resource, by request code. */
export const HANDLER_NAMES: Record<number, keyof Resource> = {
  1: "get",
  2: "post",
  3: "put",
  4: "delete",
  5: "fetch",
  6: "patch",
  7: "ipatch",
};
