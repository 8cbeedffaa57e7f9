/** A response code thrown from a handler: the server answers with it. */
import { codeName, codeString } from "../message/code.ts";

/**
 * Thrown by a handler to answer with an error code and an optional
 * diagnostic payload (RFC 7252 §5.5.2).
 * @example throw new CoapError(Code.NotFound, "no sensor 7");
 */
export class CoapError extends Error {
  override name = "CoapError";
  constructor(readonly code: number, readonly diagnostic = "") {
    super(`${codeString(code)} ${codeName(code)}${diagnostic ? `: ${diagnostic}` : ""}`);
  }
}
