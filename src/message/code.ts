/**
 * Method and response codes (RFC 7252 §12.1, RFC 7959, RFC 8132, RFC 8516,
 * RFC 8768, RFC 9175), as numbers whose top three bits are the class.
 * @module
 */

const code = (cls: number, detail: number) => (cls << 5) | detail;

/** Named codes. */
export const Code = {
  Empty: 0,
  Get: code(0, 1),
  Post: code(0, 2),
  Put: code(0, 3),
  Delete: code(0, 4),
  Fetch: code(0, 5),
  Patch: code(0, 6),
  IPatch: code(0, 7),
  Created: code(2, 1),
  Deleted: code(2, 2),
  Valid: code(2, 3),
  Changed: code(2, 4),
  Content: code(2, 5),
  Continue: code(2, 31),
  BadRequest: code(4, 0),
  Unauthorized: code(4, 1),
  BadOption: code(4, 2),
  Forbidden: code(4, 3),
  NotFound: code(4, 4),
  MethodNotAllowed: code(4, 5),
  NotAcceptable: code(4, 6),
  RequestEntityIncomplete: code(4, 8),
  Conflict: code(4, 9),
  PreconditionFailed: code(4, 12),
  RequestEntityTooLarge: code(4, 13),
  UnsupportedContentFormat: code(4, 15),
  UnprocessableEntity: code(4, 22),
  TooManyRequests: code(4, 29),
  InternalServerError: code(5, 0),
  NotImplemented: code(5, 1),
  BadGateway: code(5, 2),
  ServiceUnavailable: code(5, 3),
  GatewayTimeout: code(5, 4),
  ProxyingNotSupported: code(5, 5),
  HopLimitReached: code(5, 8),
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
