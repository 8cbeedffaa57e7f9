/** What a request resolves to. */
import { codeName, codeString, isClientError, isServerError, isSuccess } from "../message/code.ts";
import { getOption, getUintOption, type Message } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import type { Address } from "../transport/transport.ts";

/**
 * A response: its code in every form, its options and payload, and the message itself.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, ContentFormat, Site } from "../mod.ts";
 * const server = new CoapServer(new Site().add("temperature", { get: () => "22.5" }), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const client = new CoapClient();
 * const response = await client.get(`coap://127.0.0.1:${server.address.port}/temperature`);
 * assert.deepEqual([response.codeString, response.codeName, response.text()], ["2.05", "Content", "22.5"]);
 * assert.equal(response.contentFormat, ContentFormat.TextPlain);
 * client.close();
 * server.close();
 * ```
 */
export class CoapResponse {
  /** A response: the message as received, and the address it came from. */
  constructor(readonly message: Message, readonly peer: Address) {}

  /** The code as a number (class << 5 | detail). */
  get code(): number {
    return this.message.code;
  }

  /** "2.05". */
  get codeString(): string {
    return codeString(this.message.code);
  }

  /** "Content". */
  get codeName(): string {
    return codeName(this.message.code);
  }

  /** 2.xx. */
  get isSuccess(): boolean {
    return isSuccess(this.message.code);
  }

  /** 4.xx. */
  get isClientError(): boolean {
    return isClientError(this.message.code);
  }

  /** 5.xx. */
  get isServerError(): boolean {
    return isServerError(this.message.code);
  }

  /** The payload bytes (after Block2 reassembly, the whole body). */
  get payload(): Uint8Array {
    return this.message.payload;
  }

  /** Content-Format, if the response has one. */
  get contentFormat(): number | undefined {
    return getUintOption(this.message, OptionNumber.ContentFormat);
  }

  /** First value of an option. */
  option(number: number): Uint8Array | undefined {
    return getOption(this.message, number);
  }

  /** The payload as UTF-8 text. */
  text(): string {
    return new TextDecoder().decode(this.message.payload);
  }

  /** The payload parsed as JSON. */
  json(): unknown {
    return JSON.parse(this.text());
  }
}
