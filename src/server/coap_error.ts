/** A response code thrown from a handler: the server answers with it. */
import { codeName, codeString } from "../message/code.ts";

/**
 * Thrown by a handler to answer with an error code and an optional
 * diagnostic payload (RFC 7252 §5.5.2).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapError, CoapServer, Code, Site } from "../mod.ts";
 * const site = new Site().add("sensors/7", {
 *   get: () => {
 *     throw new CoapError(Code.NotFound, "no sensor 7");
 *   },
 * });
 * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const response = await client.get(`coap://127.0.0.1:${server.address.port}/sensors/7`);
 * assert.deepEqual([response.codeString, response.text()], ["4.04", "no sensor 7"]);
 * client.close();
 * server.close();
 * ```
 */
export class CoapError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "CoapError";
  /** An error answered with response code `code` (e.g. Code.NotFound) and `diagnostic` as its payload. */
  constructor(readonly code: number, readonly diagnostic = "") {
    super(`${codeString(code)} ${codeName(code)}${diagnostic ? `: ${diagnostic}` : ""}`);
  }
}
