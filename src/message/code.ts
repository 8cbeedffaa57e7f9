/**
 * Method and response codes (RFC 7252 §12.1, RFC 7959, RFC 8132, RFC 8516,
 * RFC 8768, RFC 9175), as numbers whose top three bits are the class.
 * @module
 */

/** Named codes, as literals (0x45 is 2.05: class 2 in the top three bits, detail 5), so their type is explicit. */
export const Code = {
  Empty: 0,
  Get: 0x01, // 0.01
  Post: 0x02, // 0.02
  Put: 0x03, // 0.03
  Delete: 0x04, // 0.04
  Fetch: 0x05, // 0.05
  Patch: 0x06, // 0.06
  IPatch: 0x07, // 0.07
  Created: 0x41, // 2.01
  Deleted: 0x42, // 2.02
  Valid: 0x43, // 2.03
  Changed: 0x44, // 2.04
  Content: 0x45, // 2.05
  Continue: 0x5f, // 2.31
  BadRequest: 0x80, // 4.00
  Unauthorized: 0x81, // 4.01
  BadOption: 0x82, // 4.02
  Forbidden: 0x83, // 4.03
  NotFound: 0x84, // 4.04
  MethodNotAllowed: 0x85, // 4.05
  NotAcceptable: 0x86, // 4.06
  RequestEntityIncomplete: 0x88, // 4.08
  Conflict: 0x89, // 4.09
  PreconditionFailed: 0x8c, // 4.12
  RequestEntityTooLarge: 0x8d, // 4.13
  UnsupportedContentFormat: 0x8f, // 4.15
  UnprocessableEntity: 0x96, // 4.22
  TooManyRequests: 0x9d, // 4.29
  InternalServerError: 0xa0, // 5.00
  NotImplemented: 0xa1, // 5.01
  BadGateway: 0xa2, // 5.02
  ServiceUnavailable: 0xa3, // 5.03
  GatewayTimeout: 0xa4, // 5.04
  ProxyingNotSupported: 0xa5, // 5.05
  HopLimitReached: 0xa8, // 5.08
} as const;

const NAMES: Record<number, string> = {
  [Code.Empty]: "Empty",
  [Code.Get]: "GET",
  [Code.Post]: "POST",
  [Code.Put]: "PUT",
  [Code.Delete]: "DELETE",
  [Code.Fetch]: "FETCH",
  [Code.Patch]: "PATCH",
  [Code.IPatch]: "iPATCH",
  [Code.Created]: "Created",
  [Code.Deleted]: "Deleted",
  [Code.Valid]: "Valid",
  [Code.Changed]: "Changed",
  [Code.Content]: "Content",
  [Code.Continue]: "Continue",
  [Code.BadRequest]: "Bad Request",
  [Code.Unauthorized]: "Unauthorized",
  [Code.BadOption]: "Bad Option",
  [Code.Forbidden]: "Forbidden",
  [Code.NotFound]: "Not Found",
  [Code.MethodNotAllowed]: "Method Not Allowed",
  [Code.NotAcceptable]: "Not Acceptable",
  [Code.RequestEntityIncomplete]: "Request Entity Incomplete",
  [Code.Conflict]: "Conflict",
  [Code.PreconditionFailed]: "Precondition Failed",
  [Code.RequestEntityTooLarge]: "Request Entity Too Large",
  [Code.UnsupportedContentFormat]: "Unsupported Content-Format",
  [Code.UnprocessableEntity]: "Unprocessable Entity",
  [Code.TooManyRequests]: "Too Many Requests",
  [Code.InternalServerError]: "Internal Server Error",
  [Code.NotImplemented]: "Not Implemented",
  [Code.BadGateway]: "Bad Gateway",
  [Code.ServiceUnavailable]: "Service Unavailable",
  [Code.GatewayTimeout]: "Gateway Timeout",
  [Code.ProxyingNotSupported]: "Proxying Not Supported",
  [Code.HopLimitReached]: "Hop Limit Reached",
};

/** Class of a code: 0 request, 2 success, 4 client error, 5 server error. */
export function codeClass(code: number): number {
  return code >> 5;
}

/** Detail of a code: the low five bits. */
export function codeDetail(code: number): number {
  return code & 31;
}

/**
 * The "c.dd" form of a code.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, codeString } from "../mod.ts";
 * assert.equal(codeString(Code.Content), "2.05");
 * ```
 */
export function codeString(code: number): string {
  return `${code >> 5}.${String(code & 31).padStart(2, "0")}`;
}

/**
 * Registered name of a code, or "Unknown" (RFC 7252 §12.1).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { codeName } from "../mod.ts";
 * assert.equal(codeName(0x84), "Not Found");
 * ```
 */
export function codeName(code: number): string {
  return NAMES[code] ?? "Unknown";
}

/** Whether the code is a request method (0.01-0.31). */
export function isRequest(code: number): boolean {
  return code >> 5 === 0 && code !== 0;
}

/** Whether the code is a response (classes 2-5). */
export function isResponse(code: number): boolean {
  return code >> 5 >= 2 && code >> 5 <= 5;
}

/** Whether the code is a 2.xx success. */
export function isSuccess(code: number): boolean {
  return code >> 5 === 2;
}

/** Whether the code is a 4.xx client error. */
export function isClientError(code: number): boolean {
  return code >> 5 === 4;
}

/** Whether the code is a 5.xx server error. */
export function isServerError(code: number): boolean {
  return code >> 5 === 5;
}

/**
 * Parses "2.05", "GET", "Content" or "not found" (any case) into a code.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, parseCode } from "../mod.ts";
 * assert.equal(parseCode("4.04"), Code.NotFound); // 132
 * ```
 */
export function parseCode(text: string): number {
  const dotted = /^([0-7])\.(\d{1,2})$/.exec(text);
  if (dotted && Number(dotted[2]) < 32) return (Number(dotted[1]) << 5) | Number(dotted[2]);
  const wanted = text.replace(/[\s_-]/g, "").toLowerCase();
  for (const [value, name] of Object.entries(NAMES)) {
    if (name.replace(/[\s_-]/g, "").toLowerCase() === wanted) return Number(value);
  }
  throw new RangeError(`unknown code "${text}" (use c.dd such as 2.05, or a name such as GET or Content)`);
}
