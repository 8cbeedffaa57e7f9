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
import { type UdpChoice, udpTransportFor } from "../transport/udp_choice.ts";
import type { TraceEvent } from "../endpoint/trace.ts";
import {
  type DtlsServerOptions,
  type DtlsServerTransport,
  dtlsServerTransport,
} from "../transport/dtls_server.ts";
import type { Address, Transport } from "../transport/transport.ts";
import { CoapError } from "./coap_error.ts";
import { discoveryResource } from "./discovery.ts";
import { CoapRequest } from "./request.ts";
import { type Handler, HANDLER_NAMES, type HandlerResult, type Resource } from "./resource.ts";
import { AmplificationGuard } from "./amplification.ts";
import { errorMessage, responseFrom } from "./responses.ts";
import { checkOptions } from "./option_checks.ts";
import { declines } from "../message/no_response.ts";
import { conditionalAnswer } from "./conditional.ts";
import { ObserveRegistry } from "./observe.ts";
import { Blockwise } from "./blockwise.ts";
import { Block2Renderings } from "./block2_renderings.ts";
import { resolveServerLimits, type ServerLimitOptions, type ServerLimits } from "./limits.ts";
import { SeparateResponses } from "./separate.ts";
import type { Exchange } from "../endpoint/confirmables.ts";
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

/** One handled request, for logs. */
export interface RequestLogEntry {
  /** Who sent the request. */
  peer: Address;
  /** The request's message type. */
  type: "CON" | "NON" | "ACK" | "RST";
  /** The method's name, e.g. "GET". */
  method: string;
  /** The Uri-Path, "/"-joined. */
  path: string;
  /** The response code, e.g. "2.05". */
  code: string;
  /** The response code's name, e.g. "Content". */
  codeName: string;
  /** The response payload's size in bytes. */
  payloadBytes: number;
  /** Handler time in ms. */
  elapsed: number;
  /** Answered with an empty ACK first and the response as its own CON. */
  separate: boolean;
  /** Not sent: the request's No-Response option declined its class (RFC 7967); a CON got an empty ACK. */
  suppressed?: true;
}

/** What the server holds now: for tests and `--verbose`. */
export interface ServerStats {
  /** Observations registered. */
  observers: number;
  /** Notifications waiting (at most one per observation) and peers with one in flight. */
  notificationsWaiting: number;
  /** Peers with a notification in flight. */
  notificationsInFlight: number;
  /** Requests whose handler runs or whose separate response awaits its ACK. */
  pendingResponses: number;
  /** Unfinished Block1 uploads and their bytes. */
  block1Uploads: number;
  /** Bytes those uploads hold. */
  block1Bytes: number;
}

/** Options of a server; its limits (ServerLimits, limits.ts) are options too. */
export interface ServerOptions extends EndpointOptions, ServerLimitOptions {
  /** Address to bind (default "::", which on Linux takes IPv4 too; "0.0.0.0" where IPv6 is off). */
  hostname?: string;
  /** Port to bind (default 5683; 0 picks a free one). */
  port?: number;
  /** The UDP transport: "batched" (recvmmsg/sendmmsg, Linux with FFI), "deno" or "auto" (default; see udpTransportFor). */
  udp?: UdpChoice;
  /**
   * SO_REUSEPORT on the server's sockets (socket(7)), so several servers — one per worker of `serve
   * --workers` — share the port; needs the batched transport (udpTransportFor throws otherwise).
   */
  reusePort?: boolean;
  /** How long a handler may take before the request is acknowledged and answered separately (ms, default 500). */
  separateResponseDelay?: number;
  /** Called once per request answered. */
  onLog?: (entry: RequestLogEntry) => void;
  /** Called with errors thrown by handlers (not CoapError) and answers that cannot be sent; default console.error. */
  onError?: (error: unknown, request?: CoapRequest) => void;
  /** Serve on this endpoint instead of a UDP socket (an in-memory link in tests). */
  endpoint?: Endpoint;
  /** Also serve coaps:// (RFC 7252 §9) on `dtls.port` (default 5684), with these credentials. */
  dtls?: DtlsServerOptions & {
    port?: number;
    /** The coaps endpoint's trace of the CoAP messages inside the sessions (default: `onTrace`). */
    onTrace?: (event: TraceEvent) => void;
  };
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
  /** The same site over DTLS, when `dtls` was given: its own endpoint, sessions and observers. */
  readonly secure?: CoapServer;
  /** The DTLS sessions under `secure`. */
  readonly dtls?: DtlsServerTransport;
  /** The bounds in force, defaults filled in. */
  readonly limits: Readonly<ServerLimits>;
  readonly #site: Site;
  readonly #separate: SeparateResponses;
  readonly #onLog?: (entry: RequestLogEntry) => void;
  readonly #onError: (error: unknown, request?: CoapRequest) => void;
  readonly #observers: ObserveRegistry;
  readonly #blockwise: Blockwise;
  readonly #discovery: Resource;
  readonly #renderings: Block2Renderings;
  readonly #amplification: AmplificationGuard;
  /** Set on the coaps server: the PSK identity of a peer's DTLS session. */
  #identityOf?: (address: Address) => string | undefined;

  /** Serves `site` on UDP (and on DTLS with `options.dtls`) from now until close(). */
  constructor(site: Site, options: ServerOptions = {}) {
    this.#site = site;
    this.#discovery = discoveryResource(site);
    this.#onLog = options.onLog;
    this.#onError = options.onError ?? ((error, request) => {
      console.error(
        // The path as the request log shows it: percent-encoded, so a peer's bytes cannot forge the line.
        request ? `handler for ${request.method} ${uriPath(request.message)} failed:` : "CoAP server:",
        error,
      );
    });
    // A server has more peers than a client, and may owe a CON notification to every observer at once.
    const endpointOptions = { ...options, limits: { ...SERVER_LIMITS, ...options.limits } };
    this.endpoint = options.endpoint ??
      new Endpoint(
        bindServer(options.hostname, options.port ?? 5683, options),
        endpointOptions,
      );
    if (options.dtls) {
      const udp = bindServer(options.hostname, options.dtls.port ?? 5684, options);
      try {
        this.dtls = dtlsServerTransport(udp, options.dtls);
      } catch (error) {
        udp.close();
        this.endpoint.close();
        throw error;
      }
      this.secure = new CoapServer(site, {
        ...options,
        dtls: undefined,
        endpoint: new Endpoint(this.dtls, {
          ...endpointOptions,
          onTrace: options.dtls.onTrace ?? options.onTrace,
        }),
        // The cookie exchange verified every DTLS client's address (RFC 6347 §4.2.1), so its answers
        // cannot be aimed at a victim: RFC 9175 §2.4's amplification bound is for unverified ones.
        amplification: { ...options.amplification, factor: Infinity },
      });
      const dtls = this.dtls;
      this.secure.#identityOf = (address) => dtls.identityOf(address);
    }
    this.endpoint.onRequest = (inbound) => this.#handle(inbound);
    this.endpoint.onBusy = (inbound, retryAfter) => this.#busy(inbound, retryAfter);
    this.endpoint.onUnreachable = (error) => this.#observers.unreachable(error.address);
    const limits = this.limits = resolveServerLimits(options, this.endpoint.parameters);
    this.#separate = new SeparateResponses(this.endpoint, {
      delay: options.separateResponseDelay ?? 500,
      handlerTimeout: limits.handlerTimeout,
      lifetime: limits.separateResponseLifetime,
      maxPerPeer: limits.maxPendingPerPeer,
      max: limits.maxPending,
    });
    this.#blockwise = new Blockwise(limits.maxBodySize, {
      maxUploads: limits.maxBlock1Uploads,
      maxBytesPerPeer: limits.maxBlock1BytesPerPeer,
      maxBytes: limits.maxBlock1Bytes,
      lifetime: limits.block1Lifetime,
    });
    this.#amplification = new AmplificationGuard(limits.amplification);
    this.#renderings = new Block2Renderings(this.#blockwise, {
      maxTransfers: limits.maxBlock2Renderings,
      maxBytes: limits.maxBlock2RenderingBytes,
      lifetime: limits.block2RenderingLifetime,
    });
    this.#observers = new ObserveRegistry(
      this.endpoint,
      (request) => Promise.resolve(this.#renderBlock(request, this.#find(request.path))),
      limits.observeLimits,
    );
  }

  /** Clients observing any resource now. */
  get observerCount(): number {
    return this.#observers.size;
  }

  /** What the server holds now. */
  get stats(): ServerStats {
    const notifications = this.#observers.notifications;
    const uploads = this.#blockwise.uploads;
    return {
      observers: this.#observers.size,
      notificationsWaiting: notifications.waiting,
      notificationsInFlight: notifications.inFlight,
      pendingResponses: this.#separate.size,
      block1Uploads: uploads.count,
      block1Bytes: uploads.bytes,
    };
  }

  /** The address the server listens on. */
  get address(): Address {
    return this.endpoint.local;
  }

  /** Stops serving. */
  close(): void {
    this.#observers.clear();
    this.#separate.clear();
    this.endpoint.close();
    this.secure?.close();
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
    this.#answer(inbound, response, inbound.at, false);
  }

  #handle(inbound: Inbound): void {
    const started = inbound.at;
    this.#amplification.receive(inbound.peer, getOption(inbound.message, OptionNumber.Echo), started);
    const checked = checkOptions(inbound.message, (path) => this.#find(path)?.criticalOptions);
    if ("refusal" in checked) {
      // RFC 7252 §5.4.1: a NON with an unrecognized critical option is rejected, not answered.
      if (checked.refusal.code === Code.BadOption && inbound.message.type !== Type.CON) {
        return this.endpoint.reject(inbound);
      }
      return this.#answer(inbound, checked.refusal, started, false);
    }
    const { message, path, query } = checked;
    const acknowledge = () => this.endpoint.acknowledge(inbound);
    const identity = this.#identityOf?.(inbound.peer.address);
    const received = new CoapRequest(message, inbound.peer.address, path, query, acknowledge, identity);
    const continued = this.#renderings.continuation(inbound.peer, received, started);
    if (continued !== undefined) return this.#answer(inbound, continued, started, false);
    // An upload to no resource, or to one without the method, is refused at its first block: that answer
    // cannot depend on the body, so 2.31 for every block and 4.04 at the end would only waste them.
    const missing = received.option(OptionNumber.Block1) === undefined
      ? undefined
      : handlerFor(this.#find(path), message.code);
    if (missing instanceof CoapError) {
      return this.#answer(
        inbound,
        errorMessage(message.token, missing.code, missing.diagnostic),
        started,
        false,
      );
    }
    const upload = this.#blockwise.receive(inbound.peer, received, started);
    if ("answer" in upload) return this.#answer(inbound, upload.answer, started, false);
    // With Block1 the handler sees the whole body, and the final response acknowledges the last block.
    const request = upload.lastBlock.length === 0 ? received : new CoapRequest(
      { ...message, payload: upload.body },
      inbound.peer.address,
      path,
      query,
      acknowledge,
      identity,
    );
    const finish = (response: Outgoing) =>
      upload.lastBlock.length === 0 ? response : {
        ...response,
        options: [...response.options, { number: OptionNumber.Block1, value: upload.lastBlock }],
      };
    const resource = this.#find(path);
    // A peer (or all of them) with this many requests still in progress gets 5.03 before anything runs.
    const retryAfter = this.#separate.busy(inbound.peer);
    if (retryAfter > 0) return this.#busy(inbound, retryAfter);
    const rendered = this.#renderBlock(request, resource, inbound.peer, started);
    if (rendered instanceof Promise) {
      this.#separate.wait(
        inbound,
        rendered.then((response) => finish(this.#observed(inbound, request, resource, response))),
        (response, separate) => this.#deliver(inbound, response, started, separate),
        () => request.acknowledged,
      );
    } else {
      // A handler that called acknowledge() has had its empty ACK sent: the answer goes separately.
      const response = finish(this.#observed(inbound, request, resource, rendered));
      this.#answer(inbound, response, started, request.acknowledged);
    }
  }

  /**
   * The handler's response, cut to the Block2 block the request asks for (or the first, when too large);
   * with the `peer` of a request (and its arrival time), a non-GET response is kept for its continuations.
   */
  #renderBlock(
    request: CoapRequest,
    resource: Resource | undefined,
    peer?: Peer,
    arrivedAt = 0,
  ): Outgoing | Promise<Outgoing> {
    const rendered = this.#render(request, resource);
    if (peer === undefined) {
      return rendered instanceof Promise
        ? rendered.then((response) => this.#blockwise.slice(request, response))
        : this.#blockwise.slice(request, rendered);
    }
    // A synchronous answer comes within the turn the request arrived in: its arrival time is the time now.
    if (!(rendered instanceof Promise)) return this.#renderings.first(peer, request, rendered, arrivedAt);
    return rendered.then((response) =>
      this.#renderings.first(peer, request, response, this.endpoint.clock.now())
    );
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
    const handler = handlerFor(resource, request.message.code);
    if (handler instanceof CoapError) throw handler;
    // RFC 7252 §5.10.8, §5.10.6.2: a resource that declares its ETag has conditions decided here.
    const answer = resource!.etag && conditionalAnswer(request, resource!.etag(request));
    return answer ?? handler.call(resource, request);
  }

  /** Sends the answer; a separate response's exchange is returned for SeparateResponses to follow. */
  #send(inbound: Inbound, response: Outgoing, separate: boolean): Exchange | undefined {
    // RFC 7967 §2: a declined response is not sent, but a CON is still acknowledged (RFC 7252 §4.2); a
    // separate response's CON request already was.
    if (declines(inbound.message, response.code)) {
      if (!separate) this.endpoint.acknowledge(inbound);
      return undefined;
    }
    if (separate) {
      // Queued behind other CONs to the peer for longer than its lifetime, it is dropped (SeparateResponses).
      const expiresAt = this.endpoint.clock.now() + this.limits.separateResponseLifetime;
      const exchange = this.endpoint.confirmable(response, inbound.peer, { expiresAt });
      // A client that went away, reset it, or a server closing: nothing more can be done for this answer.
      exchange.acknowledged.catch(() => {});
      return exchange;
    }
    this.endpoint.respond(inbound, response);
    return undefined;
  }

  #errorResponse(error: unknown, request: CoapRequest): Outgoing {
    if (error instanceof CoapError) return errorMessage(request.message.token, error.code, error.diagnostic);
    if (error instanceof SyntaxError) {
      return errorMessage(request.message.token, Code.BadRequest, "malformed payload");
    }
    this.#onError(error, request);
    return errorMessage(request.message.token, Code.InternalServerError);
  }

  /** Answers a request now; nothing follows it (a void-returning #deliver, for `return this.#answer(…)`). */
  #answer(inbound: Inbound, response: Outgoing, started: number, separate: boolean): void {
    // Within the turn the request arrived in: its arrival time is the time now.
    this.#deliver(inbound, response, started, separate, started);
  }

  /** Sends and logs the answer; returns the separate response's exchange, if one went as a CON. */
  #deliver(
    inbound: Inbound,
    response: Outgoing,
    started: number,
    separate: boolean,
    now = this.endpoint.clock.now(),
  ): Exchange | undefined {
    let exchange: Exchange | undefined;
    const safe = inbound.message.code === Code.Get || inbound.message.code === Code.Fetch;
    try {
      response = this.#amplification.limit(inbound.peer, { size: inbound.size, safe }, response, now);
      exchange = this.#send(inbound, response, separate);
    } catch (error) {
      // The handler's answer cannot be encoded (too large, a bad option): say so rather than stay silent.
      this.#onError(error);
      response = errorMessage(
        inbound.message.token,
        Code.InternalServerError,
        "response could not be encoded",
      );
      exchange = this.#send(inbound, response, separate);
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
      ...(declines(inbound.message, response.code) ? { suppressed: true as const } : {}),
    });
    return exchange;
  }
}

/** The resource's handler for a method, or the error standing in its place: 4.04 without a resource, 4.05. */
function handlerFor(resource: Resource | undefined, code: number): Handler | CoapError {
  if (resource === undefined) return new CoapError(Code.NotFound);
  const name = HANDLER_NAMES[code];
  const handler = name === undefined ? undefined : resource[name];
  return typeof handler === "function" ? handler : new CoapError(Code.MethodNotAllowed);
}

/** A server socket: dual-stack "::" unless a hostname is given, IPv4 only on a host without IPv6. */
function bindServer(
  hostname: string | undefined,
  port: number,
  { udp, reusePort }: Pick<ServerOptions, "udp" | "reusePort">,
): Transport {
  if (hostname !== undefined) return udpTransportFor({ hostname, port, udp, reusePort });
  try {
    return udpTransportFor({ hostname: "::", port, udp, reusePort });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw error;
    return udpTransportFor({ hostname: "0.0.0.0", port, udp, reusePort });
  }
}
