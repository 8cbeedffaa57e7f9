/**
 * The server side of the request layer: checks a request's options, finds
 * its resource and handler, runs it, and answers — piggybacked when the
 * handler is quick, as an empty ACK and a separate CON when it is not.
 * @module
 */
import { Code, codeName, codeString, isSuccess } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import { type CoapOption, getOptions, uriPath } from "../message/message.ts";
import { isCritical, OptionNumber } from "../message/option.ts";
import { decodeString, encodeString, encodeUint, splitUriPath } from "../message/option_value.ts";
import { Type, typeName } from "../message/type.ts";
import {
  Endpoint,
  type EndpointOptions,
  type Inbound,
  type MessageLayerSizes,
  type Outgoing,
} from "../endpoint/endpoint.ts";
import { udpTransport } from "../transport/udp.ts";
import type { Address } from "../transport/transport.ts";
import { CoapError } from "./coap_error.ts";
import { discoveryResource } from "./discovery.ts";
import { CoapRequest } from "./request.ts";
import { HANDLER_NAMES, type HandlerResult, type Resource, type ResponseInit } from "./resource.ts";
import { type ObserveLimits, ObserveRegistry } from "./observe.ts";
import { Blockwise } from "./blockwise.ts";
import { exchangeLifetime } from "../endpoint/params.ts";
import type { Site } from "./site.ts";

/** Critical options this server acts on; any other critical option gets 4.02 (RFC 7252 §5.4.1). */
const UNDERSTOOD = new Set<number>([
  OptionNumber.UriHost,
  OptionNumber.UriPort,
  OptionNumber.UriPath,
  OptionNumber.UriQuery,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);
const PROXY_OPTIONS = new Set<number>([OptionNumber.ProxyUri, OptionNumber.ProxyScheme]);
const BLOCK_OPTIONS = new Set<number>([OptionNumber.Block1, OptionNumber.Block2]);

/**
 * The message layer's tables for a server (see DEFAULT_LIMITS for the rule): 8,192 peers; 65,536 strict
 * dedup entries (265 POST/PUT/DELETE/PATCH requests a second over EXCHANGE_LIFETIME), at most 1,024 of them
 * for one peer; and a CON notification in flight to each of 65,536 observers.
 */
export const SERVER_LIMITS: Readonly<Partial<MessageLayerSizes>> = {
  peers: 8192,
  strictEntries: 65536,
  strictPerPeer: 1024,
  retransmitSlots: 65536,
};
// Shared, never written: a fresh empty Uint8Array still costs Deno a backing store (see src/bytes.ts).
const EMPTY = new Uint8Array(0);
const DEFAULT_MAX_BODY = 2 * 1024 * 1024;

const DEFAULT_CODES: Record<number, number> = {
  [Code.Get]: Code.Content,
  [Code.Fetch]: Code.Content,
  [Code.Post]: Code.Changed,
  [Code.Put]: Code.Changed,
  [Code.Patch]: Code.Changed,
  [Code.IPatch]: Code.Changed,
  [Code.Delete]: Code.Deleted,
};

/** One handled request, for logs. */
export interface RequestLogEntry {
  peer: Address;
  type: "CON" | "NON" | "ACK" | "RST";
  method: string;
  path: string;
  code: string;
  codeName: string;
  payloadBytes: number;
  /** Handler time in ms. */
  elapsed: number;
  /** Answered with an empty ACK first and the response as its own CON. */
  separate: boolean;
}

/** Options of a server. */
export interface ServerOptions extends EndpointOptions {
  /** Address to bind (default "0.0.0.0"; "::" for IPv6, which on Linux takes IPv4 too). */
  hostname?: string;
  /** Port to bind (default 5683; 0 picks a free one). */
  port?: number;
  /** How long a handler may take before the request is acknowledged and answered separately (ms, default 500). */
  separateResponseDelay?: number;
  /** Called once per request answered. */
  onLog?: (entry: RequestLogEntry) => void;
  /** Called with errors thrown by handlers (not CoapError) and answers that cannot be sent; default console.error. */
  onError?: (error: unknown, request?: CoapRequest) => void;
  /** Serve on this endpoint instead of a UDP socket (an in-memory link in tests). */
  endpoint?: Endpoint;
  /** Largest request body reassembled from Block1 blocks (bytes, default 2 MiB); beyond it, 4.13. */
  maxBodySize?: number;
  /** Observer limits (RFC 7641 §4.1); beyond them a GET with Observe gets a plain response. */
  observeLimits?: Partial<ObserveLimits>;
}

/**
 * Serves a site.
 * @example
 * const site = new Site().add("temperature", { get: () => "22.5" });
 * const server = new CoapServer(site, { port: 5683 });
 */
export class CoapServer {
  /** The endpoint the server answers on. */
  readonly endpoint: Endpoint;
  readonly #site: Site;
  readonly #separateDelay: number;
  readonly #onLog?: (entry: RequestLogEntry) => void;
  readonly #onError: (error: unknown, request?: CoapRequest) => void;
  readonly #observers: ObserveRegistry;
  readonly #blockwise: Blockwise;
  readonly #discovery: Resource;

  constructor(site: Site, options: ServerOptions = {}) {
    this.#site = site;
    this.#discovery = discoveryResource(site);
    this.#separateDelay = options.separateResponseDelay ?? 500;
    this.#onLog = options.onLog;
    this.#onError = options.onError ?? ((error, request) => {
      console.error(
        request ? `handler for ${request.method} /${request.path.join("/")} failed:` : "CoAP server:",
        error,
      );
    });
    // A server has more peers than a client, and may owe a CON notification to every observer at once.
    this.endpoint = options.endpoint ??
      new Endpoint(
        udpTransport({ hostname: options.hostname ?? "0.0.0.0", port: options.port ?? 5683 }),
        { ...options, limits: { ...SERVER_LIMITS, ...options.limits } },
      );
    this.endpoint.onRequest = (inbound) => this.#handle(inbound);
    this.endpoint.onBusy = (inbound, retryAfter) => this.#busy(inbound, retryAfter);
    this.#blockwise = new Blockwise(
      options.maxBodySize ?? DEFAULT_MAX_BODY,
      exchangeLifetime(this.endpoint.parameters),
    );
    this.#observers = new ObserveRegistry(
      this.endpoint,
      (request) => Promise.resolve(this.#renderBlock(request, this.#find(request.path))),
      { perResource: 16384, perPeer: 64, ...options.observeLimits },
    );
  }

  /** Clients observing any resource now. */
  get observerCount(): number {
    return this.#observers.size;
  }

  /** The address the server listens on. */
  get address(): Address {
    return this.endpoint.local;
  }

  /** Stops serving. */
  close(): void {
    this.#observers.clear();
    this.endpoint.close();
  }

  /** The resource at a path: the site's, or discovery. */
  #find(path: string[]): Resource | undefined {
    return path.length === 2 && path[0] === ".well-known" && path[1] === "core"
      ? this.#discovery
      : this.#site.find(path);
  }

  /**
   * The message layer has no room to remember this request, so it must not run: 5.03 Service
   * Unavailable, with Max-Age saying when to retry (RFC 7252 §5.9.3.4).
   */
  #busy(inbound: Inbound, retryAfter: number): void {
    const response = errorMessage(
      inbound.message.token,
      Code.ServiceUnavailable,
      "too many requests in progress",
    );
    response.options.push({ number: OptionNumber.MaxAge, value: encodeUint(retryAfter) });
    this.#answer(inbound, response, this.endpoint.clock.now(), false);
  }

  #handle(inbound: Inbound): void {
    const started = this.endpoint.clock.now();
    const { message } = inbound;
    const refusal = this.#refuseOptions(inbound);
    if (refusal !== undefined) {
      // RFC 7252 §5.4.1: a NON with an unrecognized critical option is rejected, not answered.
      if (refusal.code === Code.BadOption && message.type !== Type.CON) return this.endpoint.reject(inbound);
      return this.#answer(inbound, refusal, started, false);
    }
    let path: string[];
    let query: string[];
    try {
      path = getOptions(message, OptionNumber.UriPath).map(decodeString);
      query = getOptions(message, OptionNumber.UriQuery).map(decodeString);
    } catch {
      const response = errorMessage(message.token, Code.BadRequest, "Uri-Path or Uri-Query is not UTF-8");
      return this.#answer(inbound, response, started, false);
    }
    const received = new CoapRequest(message, inbound.peer.address, path, query);
    const upload = this.#blockwise.receive(inbound.peer, received, started);
    if ("answer" in upload) return this.#answer(inbound, upload.answer, started, false);
    // With Block1 the handler sees the whole body, and the final response acknowledges the last block.
    const request = upload.lastBlock.length === 0
      ? received
      : new CoapRequest({ ...message, payload: upload.body }, inbound.peer.address, path, query);
    const finish = (response: Outgoing) =>
      upload.lastBlock.length === 0 ? response : {
        ...response,
        options: [...response.options, { number: OptionNumber.Block1, value: upload.lastBlock }],
      };
    const resource = this.#find(path);
    let separate = false;
    const rendered = this.#renderBlock(request, resource);
    if (rendered instanceof Promise) {
      // The answer may go out as a separate CON later: the peer's entry (its Message IDs) must stay.
      this.endpoint.hold(inbound.peer);
      const timer = this.endpoint.clock.setTimer(() => {
        // RFC 7252 §5.2.2: acknowledge now so the client stops retransmitting; the response follows as a CON.
        separate = inbound.message.type === Type.CON;
        this.endpoint.acknowledge(inbound);
      }, this.#separateDelay);
      rendered.then((response) => {
        this.endpoint.clock.cancel(timer);
        this.endpoint.release(inbound.peer);
        this.#answer(
          inbound,
          finish(this.#observed(inbound, request, resource, response)),
          started,
          separate,
        );
      });
    } else {
      this.#answer(inbound, finish(this.#observed(inbound, request, resource, rendered)), started, false);
    }
  }

  /** The handler's response, cut to the Block2 block the request asks for (or the first, when too large). */
  #renderBlock(request: CoapRequest, resource: Resource | undefined): Outgoing | Promise<Outgoing> {
    const rendered = this.#render(request, resource);
    return rendered instanceof Promise
      ? rendered.then((response) => this.#blockwise.slice(request, response))
      : this.#blockwise.slice(request, rendered);
  }

  /** A GET's response, after the Observe option has registered or deregistered its client. */
  #observed(
    inbound: Inbound,
    request: CoapRequest,
    resource: Resource | undefined,
    response: Outgoing,
  ): Outgoing {
    if (resource === undefined || request.message.code !== Code.Get) return response;
    return this.#observers.respond(inbound.peer, request, resource, response);
  }

  /** Runs the request's handler: a response now when it is synchronous, a promise of one otherwise. */
  #render(request: CoapRequest, resource: Resource | undefined): Outgoing | Promise<Outgoing> {
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = this.#dispatch(request, resource);
    } catch (error) {
      return this.#errorResponse(error, request);
    }
    if (!(result instanceof Promise)) return this.#response(request, result);
    return result.then(
      (value) => this.#response(request, value),
      (error) => this.#errorResponse(error, request),
    );
  }

  /**
   * 4.02 for critical options this server does not act on, 5.05 for proxy requests (RFC 7252 §5.4.1, §5.7),
   * 4.00 for a reserved block size (RFC 7959 §2.2).
   */
  #refuseOptions(inbound: Inbound): Outgoing | undefined {
    const { message } = inbound;
    for (const option of message.options) {
      if (PROXY_OPTIONS.has(option.number)) return errorMessage(message.token, Code.ProxyingNotSupported);
      if (isCritical(option.number) && !UNDERSTOOD.has(option.number)) {
        return errorMessage(message.token, Code.BadOption, `option ${option.number} not supported`);
      }
      // RFC 7959 §2.2: SZX 7 is reserved and MUST lead to 4.00 Bad Request in a request.
      if (BLOCK_OPTIONS.has(option.number) && ((option.value.at(-1) ?? 0) & 7) === 7) {
        return errorMessage(message.token, Code.BadRequest, "block size 2048 (SZX 7) is reserved");
      }
    }
    return undefined;
  }

  #dispatch(request: CoapRequest, resource: Resource | undefined): HandlerResult | Promise<HandlerResult> {
    const code = request.message.code;
    if (resource === undefined) throw new CoapError(Code.NotFound);
    const handlerName = HANDLER_NAMES[code];
    const handler = handlerName === undefined ? undefined : resource[handlerName];
    if (typeof handler !== "function") throw new CoapError(Code.MethodNotAllowed);
    return handler.call(resource, request);
  }

  #response(request: CoapRequest, result: HandlerResult): Outgoing {
    const init: ResponseInit = typeof result === "string"
      ? { payload: result, contentFormat: ContentFormat.TextPlain }
      : result instanceof Uint8Array
      ? { payload: result }
      : result ?? {};
    const code = init.code ?? DEFAULT_CODES[request.message.code] ?? Code.Changed;
    const accept = request.accept;
    // RFC 7252 §5.10.4: a representation in another format than the one asked for is not acceptable.
    if (
      accept !== undefined && isSuccess(code) && init.contentFormat !== undefined &&
      init.contentFormat !== accept
    ) {
      return errorMessage(request.message.token, Code.NotAcceptable);
    }
    const options: CoapOption[] = [];
    if (init.etag !== undefined) options.push({ number: OptionNumber.ETag, value: init.etag });
    if (init.locationPath !== undefined) {
      for (const segment of splitUriPath(init.locationPath)) {
        options.push({ number: OptionNumber.LocationPath, value: segment });
      }
    }
    if (init.contentFormat !== undefined) {
      options.push({ number: OptionNumber.ContentFormat, value: encodeUint(init.contentFormat) });
    }
    if (init.maxAge !== undefined) {
      options.push({ number: OptionNumber.MaxAge, value: encodeUint(init.maxAge) });
    }
    const payload = typeof init.payload === "string" ? encodeString(init.payload) : init.payload ?? EMPTY;
    return { code, token: request.message.token, options: [...options, ...(init.options ?? [])], payload };
  }

  #send(inbound: Inbound, response: Outgoing, separate: boolean): void {
    if (separate) {
      this.endpoint.sendConfirmable(response, inbound.peer).catch(() => {
        // The client went away or reset the separate response; nothing more can be done for it.
      });
    } else {
      this.endpoint.respond(inbound, response);
    }
  }

  #errorResponse(error: unknown, request: CoapRequest): Outgoing {
    if (error instanceof CoapError) return errorMessage(request.message.token, error.code, error.diagnostic);
    if (error instanceof SyntaxError) {
      return errorMessage(request.message.token, Code.BadRequest, "malformed payload");
    }
    this.#onError(error, request);
    return errorMessage(request.message.token, Code.InternalServerError);
  }

  #answer(inbound: Inbound, response: Outgoing, started: number, separate: boolean): void {
    try {
      this.#send(inbound, response, separate);
    } catch (error) {
      // The handler's answer cannot be encoded (too large, a bad option): say so rather than stay silent.
      this.#onError(error);
      response = errorMessage(
        inbound.message.token,
        Code.InternalServerError,
        "response could not be encoded",
      );
      this.#send(inbound, response, separate);
    }
    this.#onLog?.({
      peer: inbound.peer.address,
      type: typeName(inbound.message.type),
      method: codeName(inbound.message.code),
      path: uriPath(inbound.message),
      code: codeString(response.code),
      codeName: codeName(response.code),
      payloadBytes: response.payload.length,
      elapsed: this.endpoint.clock.now() - started,
      separate,
    });
  }
}

function errorMessage(token: Uint8Array, code: number, diagnostic = ""): Outgoing {
  return { code, token, options: [], payload: encodeString(diagnostic) };
}
