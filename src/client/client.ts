/**
 * The client side of the request layer: tokens, and matching responses to
 * requests by (peer, token) — piggybacked, separate, in any order — never by
 * Message ID.
 * @module
 */
import { Code } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { encodeString, encodeUint } from "../message/option_value.ts";
import {
  Endpoint,
  type EndpointOptions,
  type Inbound,
  type Outgoing,
  type Peer,
} from "../endpoint/endpoint.ts";
import { TimeoutError } from "../endpoint/errors.ts";
import { maxTransmitWait } from "../endpoint/params.ts";
import { udpTransport, wildcardFor } from "../transport/udp.ts";
import type { Address } from "../transport/transport.ts";
import { CoapResponse } from "./response.ts";
import { resolveCoapUri } from "./uri.ts";

/** Request methods by name. */
export type Method = "GET" | "POST" | "PUT" | "DELETE" | "FETCH" | "PATCH" | "iPATCH";

const METHOD_CODES: Record<Method, number> = {
  GET: Code.Get,
  POST: Code.Post,
  PUT: Code.Put,
  DELETE: Code.Delete,
  FETCH: Code.Fetch,
  PATCH: Code.Patch,
  iPATCH: Code.IPatch,
};

/** Options of one request. */
export interface RequestOptions {
  /** Default GET. */
  method?: Method;
  payload?: string | Uint8Array;
  contentFormat?: number;
  accept?: number;
  /** Extra Uri-Query entries ("k=v"), after those in the URI. */
  query?: string[];
  /** Any further options. */
  options?: CoapOption[];
  /** CON (default) or NON. */
  confirmable?: boolean;
  /** Give up after this many ms; default MAX_TRANSMIT_WAIT. */
  timeout?: number;
  /** Cancels the request. */
  signal?: AbortSignal;
}

/** Options of a client. */
export interface ClientOptions extends EndpointOptions {
  /** Token length in bytes, 1-8 (default 4). */
  tokenLength?: number;
  /** Use this endpoint instead of UDP sockets (an in-memory link in tests). */
  endpoint?: Endpoint;
}

interface Pending {
  readonly deliver: (inbound: Inbound) => void;
}

/**
 * A CoAP client.
 * @example
 * const client = new CoapClient();
 * const response = await client.get("coap://127.0.0.1/temperature");
 * console.log(response.codeString, response.text());
 * client.close();
 */
export class CoapClient {
  readonly #options: ClientOptions;
  readonly #tokenLength: number;
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #pending = new Map<string, Pending>();

  constructor(options: ClientOptions = {}) {
    this.#options = options;
    this.#tokenLength = options.tokenLength ?? 4;
    if (!(this.#tokenLength >= 1 && this.#tokenLength <= 8)) {
      throw new RangeError(`tokenLength ${this.#tokenLength} is not 1..8`);
    }
    if (options.endpoint) this.#adopt("given", options.endpoint);
  }

  /** GET a resource. */
  get(uri: string | URL, options: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(uri, { ...options, method: "GET" });
  }

  /** PUT a representation. */
  put(uri: string | URL, payload: string | Uint8Array, options: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(uri, { ...options, method: "PUT", payload });
  }

  /** POST a representation. */
  post(uri: string | URL, payload: string | Uint8Array, options: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(uri, { ...options, method: "POST", payload });
  }

  /** DELETE a resource. */
  delete(uri: string | URL, options: RequestOptions = {}): Promise<CoapResponse> {
    return this.request(uri, { ...options, method: "DELETE" });
  }

  /**
   * Sends a request and resolves with its response, whether piggybacked or
   * separate. Rejects with TimeoutError (no answer in time), ResetError (the
   * server sent RST) or the signal's reason.
   */
  async request(uri: string | URL, options: RequestOptions = {}): Promise<CoapResponse> {
    const target = await resolveCoapUri(uri);
    const endpoint = this.#endpointFor(target.address);
    const peer = endpoint.peer(target.address);
    const message: Outgoing = {
      code: METHOD_CODES[options.method ?? "GET"],
      token: this.#newToken(peer),
      options: [...target.options, ...requestOptions(options)],
      payload: typeof options.payload === "string"
        ? encodeString(options.payload)
        : options.payload ?? new Uint8Array(),
    };
    const key = pendingKey(peer, message.token);
    const clock = endpoint.clock;
    const timeout = options.timeout ?? maxTransmitWait(endpoint.parameters);
    return await new Promise<CoapResponse>((resolve, reject) => {
      const finish = (error: unknown, response?: CoapResponse) => {
        if (!this.#pending.has(key)) return;
        this.#pending.delete(key);
        clock.cancel(timer);
        options.signal?.removeEventListener("abort", abort);
        if (response) resolve(response);
        else reject(error);
      };
      const abort = () => finish(options.signal?.reason ?? new Error("request aborted"));
      const timer = clock.setTimer(
        () => finish(new TimeoutError(`no response from ${peer.key} within ${Math.round(timeout)} ms`)),
        timeout,
      );
      options.signal?.addEventListener("abort", abort);
      this.#pending.set(key, {
        deliver: (inbound) => finish(undefined, new CoapResponse(inbound.message, inbound.peer.address)),
      });
      if (options.signal?.aborted) return abort();
      if (options.confirmable === false) {
        endpoint.sendNonConfirmable(message, peer);
      } else {
        // An empty ACK means a separate response will follow; only failures matter here.
        endpoint.sendConfirmable(message, peer).catch((error) => finish(error));
      }
    });
  }

  /** Closes the client's sockets; open requests fail. */
  close(): void {
    for (const endpoint of this.#endpoints.values()) endpoint.close();
    this.#endpoints.clear();
  }

  #endpointFor(address: Address): Endpoint {
    const given = this.#endpoints.get("given");
    if (given) return given;
    const family = address.hostname.includes(":") ? "ipv6" : "ipv4";
    let endpoint = this.#endpoints.get(family);
    if (!endpoint) {
      endpoint = new Endpoint(udpTransport({ hostname: wildcardFor(address.hostname) }), this.#options);
      this.#adopt(family, endpoint);
    }
    return endpoint;
  }

  #adopt(name: string, endpoint: Endpoint): void {
    this.#endpoints.set(name, endpoint);
    endpoint.onResponse = (inbound) => this.#receive(endpoint, inbound);
  }

  #receive(endpoint: Endpoint, inbound: Inbound): void {
    const pending = this.#pending.get(pendingKey(inbound.peer, inbound.message.token));
    if (pending === undefined) {
      // RFC 7252 §5.3.2: a response that matches no open request is rejected (RST if it was a CON).
      endpoint.reject(inbound);
      return;
    }
    endpoint.acknowledge(inbound);
    pending.deliver(inbound);
  }

  #newToken(peer: Peer): Uint8Array {
    while (true) {
      const token = crypto.getRandomValues(new Uint8Array(this.#tokenLength));
      if (!this.#pending.has(pendingKey(peer, token))) return token;
    }
  }
}

function pendingKey(peer: Peer, token: Uint8Array): string {
  let key = peer.key + "/";
  for (const byte of token) key += byte.toString(16).padStart(2, "0");
  return key;
}

function requestOptions(options: RequestOptions): CoapOption[] {
  const list: CoapOption[] = [];
  for (const query of options.query ?? []) {
    list.push({ number: OptionNumber.UriQuery, value: encodeString(query) });
  }
  if (options.contentFormat !== undefined) {
    list.push({ number: OptionNumber.ContentFormat, value: encodeUint(options.contentFormat) });
  }
  if (options.accept !== undefined) {
    list.push({ number: OptionNumber.Accept, value: encodeUint(options.accept) });
  }
  return [...list, ...(options.options ?? [])];
}
