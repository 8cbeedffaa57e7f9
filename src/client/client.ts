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
import { Observation } from "./observation.ts";
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
      payload: typeof options.payload === "string" ? encodeString(options.payload) : options.payload ?? EMPTY,
    };
    return await this.#exchange(endpoint, peer, message, options);
  }

  /**
   * Observes a resource (RFC 7641): resolves once the first response is in;
   * iterate the result for notifications, and leave the loop (or call
   * `cancel()`) to deregister. If the server does not offer an observation,
   * the iteration ends at once and `observation.response` is all there is.
   * @example
   * const observation = await client.observe("coap://127.0.0.1/temperature");
   * for await (const notification of observation) console.log(notification.text());
   */
  async observe(
    uri: string | URL,
    options: Omit<RequestOptions, "method" | "payload"> = {},
  ): Promise<Observation> {
    const target = await resolveCoapUri(uri);
    const endpoint = this.#endpointFor(target.address);
    const peer = endpoint.peer(target.address);
    const register: Outgoing = {
      code: Code.Get,
      token: this.#newToken(peer),
      options: [
        ...target.options,
        { number: OptionNumber.Observe, value: EMPTY },
        ...requestOptions(options),
      ],
      payload: EMPTY,
    };
    const key = pendingKey(peer, register.token);
    let observation: Observation | undefined;
    const first = await this.#exchange(
      endpoint,
      peer,
      register,
      options,
      (response) => observation?.deliver(response),
    );
    observation = new Observation(first, {
      clock: endpoint.clock,
      reregister: () => {
        endpoint.sendConfirmable(register, peer).catch(() => {});
      },
      deregister: async () => {
        this.#pending.delete(key);
        const deregister = { ...register, options: register.options.map(deregistering) };
        await this.#exchange(endpoint, peer, deregister, { timeout: options.timeout }).catch(() => {});
      },
    });
    if (!observation.active) this.#pending.delete(key);
    return observation;
  }

  /**
   * Sends `message` and resolves with the first response carrying its token.
   * With `follow`, the token stays registered and later responses go there
   * (notifications) until the caller removes it.
   */
  #exchange(
    endpoint: Endpoint,
    peer: Peer,
    message: Outgoing,
    options: Pick<RequestOptions, "confirmable" | "timeout" | "signal">,
    follow?: (response: CoapResponse) => void,
  ): Promise<CoapResponse> {
    const key = pendingKey(peer, message.token);
    const clock = endpoint.clock;
    const timeout = options.timeout ?? maxTransmitWait(endpoint.parameters);
    return new Promise<CoapResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: unknown, response?: CoapResponse) => {
        if (settled) return;
        settled = true;
        clock.cancel(timer);
        options.signal?.removeEventListener("abort", abort);
        if (follow === undefined || response === undefined) this.#pending.delete(key);
        else {this.#pending.set(key, {
            deliver: (inbound) => follow(new CoapResponse(inbound.message, inbound.peer.address)),
          });}
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

const EMPTY = new Uint8Array(0);
const OBSERVE_DEREGISTER = Uint8Array.of(1);

/** RFC 7641 §3.6: the same GET with Observe = 1 deregisters. */
function deregistering(option: CoapOption): CoapOption {
  return option.number === OptionNumber.Observe
    ? { number: option.number, value: OBSERVE_DEREGISTER }
    : option;
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
