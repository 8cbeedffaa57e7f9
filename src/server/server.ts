/**
 * The server side of the request layer: checks a request's options, finds
 * its resource and handler, runs it, and answers — piggybacked when the
 * handler is quick, as an empty ACK and a separate CON when it is not.
 * @module
 */
import { Code, codeName, codeString } from "../message/code.ts";
import { getOption, uriPath } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { encodeUint } from "../message/option_value.ts";
import { Type, typeName } from "../message/type.ts";
import {
  Endpoint,
  type EndpointOptions,
  type Inbound,
  type MessageLayerSizes,
  type Outgoing,
  type Peer,
} from "../endpoint/endpoint.ts";
import { udpTransport } from "../transport/udp.ts";
import type { Address } from "../transport/transport.ts";
import { CoapError } from "./coap_error.ts";
import { discoveryResource } from "./discovery.ts";
import { CoapRequest } from "./request.ts";
import { HANDLER_NAMES, type HandlerResult, type Resource } from "./resource.ts";
import { AmplificationGuard, type AmplificationLimits } from "./amplification.ts";
import { errorMessage, responseFrom } from "./responses.ts";
import { checkOptions } from "./option_checks.ts";
import { type ObserveLimits, ObserveRegistry } from "./observe.ts";
import { Blockwise } from "./blockwise.ts";
import { Block2Renderings } from "./block2_renderings.ts";
import { exchangeLifetime } from "../endpoint/params.ts";
import type { Site } from "./site.ts";

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
const DEFAULT_MAX_BODY = 2 * 1024 * 1024;
const DEFAULT_MAX_BLOCK2_RENDERINGS = 1000;
const DEFAULT_MAX_BLOCK2_RENDERING_BYTES = 16 * 1024 * 1024;

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
  /**
   * Responses to PUT, POST, FETCH (any method but GET) larger than a block are rendered once and kept for
   * their Block2 continuations (RFC 7959 §2.7): at most this many transfers at once (default 1,000); beyond
   * it the least recently used is dropped, and its next continuation gets 4.08.
   */
  maxBlock2Renderings?: number;
  /**
   * Bytes of those kept responses, payloads and option values (default 16 MiB); beyond it the least recently
   * used are dropped. A response larger than this on its own is answered with 5.00.
   */
  maxBlock2RenderingBytes?: number;
  /** Ms a kept response stays after its last block was served (default EXCHANGE_LIFETIME, RFC 7959 §2.4). */
  block2RenderingLifetime?: number;
  /** Observer limits (RFC 7641 §4.1); beyond them a GET with Observe gets a plain response. */
  observeLimits?: Partial<ObserveLimits>;
  /**
   * Amplification control (RFC 7252 §11.3, RFC 9175 §2.4): an address not verified by Echo gets no answer
   * larger than `factor` (3) × its request — a smaller Block2 block, or 4.01 with Echo.
   */
  amplification?: Partial<AmplificationLimits>;
}

/**
 * Serves a site.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * const site = new Site().add("temperature", { get: () => "22.5" });
 * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * assert.equal((await client.get(`coap://127.0.0.1:${server.address.port}/temperature`)).text(), "22.5");
 * client.close();
 * server.close();
 * ```
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
  readonly #amplification: AmplificationGuard;
  readonly #renderings: Block2Renderings;

  constructor(site: Site, options: ServerOptions = {}) {
    this.#site = site;
    this.#discovery = discoveryResource(site);
    this.#amplification = new AmplificationGuard(options.amplification);
    this.#separateDelay = options.separateResponseDelay ?? 500;
    this.#onLog = options.onLog;
    this.#onError = options.onError ?? ((error, request) => {
      console.error(
        // The path as the request log shows it: percent-encoded, so a peer's bytes cannot forge the line.
        request ? `handler for ${request.method} ${uriPath(request.message)} failed:` : "CoAP server:",
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
    this.#renderings = new Block2Renderings(this.#blockwise, {
      maxTransfers: options.maxBlock2Renderings ?? DEFAULT_MAX_BLOCK2_RENDERINGS,
      maxBytes: options.maxBlock2RenderingBytes ?? DEFAULT_MAX_BLOCK2_RENDERING_BYTES,
      lifetime: options.block2RenderingLifetime ?? exchangeLifetime(this.endpoint.parameters),
    });
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
    this.#amplification.receive(inbound.peer, getOption(inbound.message, OptionNumber.Echo), started);
    const checked = checkOptions(inbound.message);
    if ("refusal" in checked) {
      // RFC 7252 §5.4.1: a NON with an unrecognized critical option is rejected, not answered.
      if (checked.refusal.code === Code.BadOption && inbound.message.type !== Type.CON) {
        return this.endpoint.reject(inbound);
      }
      return this.#answer(inbound, checked.refusal, started, false);
    }
    const { message, path, query } = checked;
    const received = new CoapRequest(message, inbound.peer.address, path, query);
    const continued = this.#renderings.continuation(inbound.peer, received, started);
    if (continued !== undefined) return this.#answer(inbound, continued, started, false);
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
    const rendered = this.#renderBlock(request, resource, inbound.peer);
    if (rendered instanceof Promise) {
      // The answer may go out as a separate CON later: the peer's entry (its Message IDs) must stay.
      const release = this.endpoint.hold(inbound.peer);
      const timer = this.endpoint.clock.setTimer(() => {
        // RFC 7252 §5.2.2: acknowledge now so the client stops retransmitting; the response follows as a CON.
        separate = inbound.message.type === Type.CON;
        this.endpoint.acknowledge(inbound);
      }, this.#separateDelay);
      rendered.then((response) => {
        this.endpoint.clock.cancel(timer);
        release();
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

  /**
   * The handler's response, cut to the Block2 block the request asks for (or the first, when too large);
   * with the `peer` of a request, a non-GET response is kept for its continuations.
   */
  #renderBlock(
    request: CoapRequest,
    resource: Resource | undefined,
    peer?: Peer,
  ): Outgoing | Promise<Outgoing> {
    const rendered = this.#render(request, resource);
    const cut = (response: Outgoing) =>
      peer === undefined
        ? this.#blockwise.slice(request, response)
        : this.#renderings.first(peer, request, response, this.endpoint.clock.now());
    return rendered instanceof Promise ? rendered.then(cut) : cut(rendered);
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
    if (!(result instanceof Promise)) return responseFrom(request, result);
    return result.then(
      (value) => responseFrom(request, value),
      (error) => this.#errorResponse(error, request),
    );
  }

  #dispatch(request: CoapRequest, resource: Resource | undefined): HandlerResult | Promise<HandlerResult> {
    const code = request.message.code;
    if (resource === undefined) throw new CoapError(Code.NotFound);
    const handlerName = HANDLER_NAMES[code];
    const handler = handlerName === undefined ? undefined : resource[handlerName];
    if (typeof handler !== "function") throw new CoapError(Code.MethodNotAllowed);
    return handler.call(resource, request);
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
    const safe = inbound.message.code === Code.Get || inbound.message.code === Code.Fetch;
    try {
      const now = this.endpoint.clock.now();
      response = this.#amplification.limit(inbound.peer, { size: inbound.size, safe }, response, now);
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
