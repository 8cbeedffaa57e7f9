/** A request as a handler sees it. */
import { codeName } from "../message/code.ts";
import { getOption, getOptions, getUintOption, type Message } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { Type } from "../message/type.ts";
import type { Address } from "../transport/transport.ts";

/**
 * An incoming request: method, path and query already decoded.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * let setpoint = 20;
 * const site = new Site().add("setpoint", {
 *   put: (request) => {
 *     setpoint = Number(request.text());
 *   },
 * });
 * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const response = await client.put(`coap://127.0.0.1:${server.address.port}/setpoint`, "21.5");
 * assert.deepEqual([response.codeString, setpoint], ["2.04", 21.5]);
 * client.close();
 * server.close();
 * ```
 */
export class CoapRequest {
  readonly #onAcknowledge: () => void;
  #acknowledged = false;

  /** `onAcknowledge` is how the server sends the empty ACK when a handler calls acknowledge(). */
  constructor(
    readonly message: Message,
    readonly peer: Address,
    /** Uri-Path segments, decoded. */
    readonly path: string[],
    /** Uri-Query entries, decoded ("k=v"). */
    readonly query: string[],
    onAcknowledge: () => void = () => {},
    /** The PSK identity of the DTLS session the request came over (coaps:// only). */
    readonly identity?: string,
  ) {
    this.#onAcknowledge = onAcknowledge;
  }

  /**
   * Accept now, answer later (RFC 7252 §5.2.2): the server sends the empty ACK at once, so the client stops
   * retransmitting, and the handler's result goes out as a separate response (a CON) whenever it is ready —
   * instead of the server deciding after `separateResponseDelay`. Nothing happens for a NON request.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CoapClient, CoapServer, Site } from "../mod.ts";
   * const site = new Site().add("job", {
   *   post: async (request) => {
   *     request.acknowledge();
   *     await new Promise((resolve) => setTimeout(resolve, 50)); // the work
   *     return "done";
   *   },
   * });
   * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
   * const client = new CoapClient();
   * assert.equal((await client.post(`coap://127.0.0.1:${server.address.port}/job`, "")).text(), "done");
   * client.close();
   * server.close();
   * ```
   */
  acknowledge(): void {
    if (this.#acknowledged || !this.confirmable) return;
    this.#acknowledged = true;
    this.#onAcknowledge();
  }

  /** Whether acknowledge() sent the empty ACK already (the answer then goes as a separate response). */
  get acknowledged(): boolean {
    return this.#acknowledged;
  }

  /** "GET", "PUT", … */
  get method(): string {
    return codeName(this.message.code);
  }

  /** CON (true) or NON. */
  get confirmable(): boolean {
    return this.message.type === Type.CON;
  }

  /** The request body (after Block1 reassembly, the whole body). */
  get payload(): Uint8Array {
    return this.message.payload;
  }

  /** The request's Content-Format option, if any. */
  get contentFormat(): number | undefined {
    return getUintOption(this.message, OptionNumber.ContentFormat);
  }

  /** The request's Accept option, if any. */
  get accept(): number | undefined {
    return getUintOption(this.message, OptionNumber.Accept);
  }

  /**
   * The If-Match values (RFC 7252 §5.10.8.1): the request is to be performed only if the resource's current
   * ETag is one of them; an empty value means "if the resource exists". Empty when there is no If-Match. A
   * resource that declares `etag` has these checked by the server; a handler checking them itself answers
   * a failed precondition with `throw new CoapError(Code.PreconditionFailed)` (4.12).
   */
  get ifMatch(): Uint8Array[] {
    return getOptions(this.message, OptionNumber.IfMatch);
  }

  /** If-None-Match (RFC 7252 §5.10.8.2): perform the request only if the resource does not exist. */
  get ifNoneMatch(): boolean {
    return getOption(this.message, OptionNumber.IfNoneMatch) !== undefined;
  }

  /** The request's ETag values (RFC 7252 §5.10.6.2): representations the client holds, to be validated. */
  get etags(): Uint8Array[] {
    return getOptions(this.message, OptionNumber.ETag);
  }

  /** First value of an option. */
  option(number: number): Uint8Array | undefined {
    return getOption(this.message, number);
  }

  /** The value of query parameter `name` ("name=value"), or undefined. */
  queryParam(name: string): string | undefined {
    const prefix = name + "=";
    return this.query.find((entry) => entry.startsWith(prefix))?.slice(prefix.length);
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return new TextDecoder().decode(this.message.payload);
  }

  /** The payload parsed as JSON; a syntax error becomes the caller's 4.00. */
  json(): unknown {
    return JSON.parse(this.text());
  }
}
