/**
 * The client side of the request layer: tokens, and matching responses to
 * requests by (peer, token) — piggybacked, separate, in any order — never by
 * Message ID.
 * @module
 */
import { Code } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { blockSize, decodeBlock, decodeUint, encodeString, encodeUint } from "../message/option_value.ts";
import {
  Endpoint,
  type EndpointOptions,
  type Exchange,
  type Inbound,
  type Outgoing,
  type Peer,
} from "../endpoint/endpoint.ts";
import { TimeoutError } from "../endpoint/errors.ts";
import { maxTransmitWait } from "../endpoint/params.ts";
import type { TimerHandle } from "../endpoint/clock.ts";
import { wildcardFor } from "../transport/udp.ts";
import { type UdpChoice, udpTransportFor } from "../transport/udp_choice.ts";
import { type Address, addressKey, type Transport } from "../transport/transport.ts";
import {
  type DtlsClientOptions,
  type DtlsClientTransport,
  dtlsClientTransport,
} from "../transport/dtls_client.ts";
import { blockSzx, continuation, type SendBlock, uploadBlock1, withBlock2 } from "./blockwise.ts";
import {
  type Block2Limits,
  completeBlock2,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_TRANSFER_TIMEOUT_MS,
} from "./block2_completion.ts";
import { Observation } from "./observation.ts";
import { CoapResponse } from "./response.ts";
import { type RequestTarget, resolveCoapUri } from "./uri.ts";
import { ALL_RESPONSE_CLASSES, encodeNoResponse, type ResponseClass } from "../message/no_response.ts";

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
  /** The request body; a string is sent as UTF-8. */
  payload?: string | Uint8Array;
  /** Content-Format of the payload (RFC 7252 §5.10.3), e.g. ContentFormat.TextPlain. */
  contentFormat?: number;
  /** Accept: the Content-Format wanted in the response (RFC 7252 §5.10.4). */
  accept?: number;
  /**
   * If-Match values (RFC 7252 §5.10.8.1): perform the request only if the resource's ETag is one of them; an
   * empty value: only if it exists. A server that finds otherwise answers 4.12 Precondition Failed.
   */
  ifMatch?: Uint8Array[];
  /** If-None-Match (RFC 7252 §5.10.8.2): perform the request only if the resource does not exist. */
  ifNoneMatch?: boolean;
  /** ETags of representations the client holds (RFC 7252 §5.10.6.2): a GET matching one gets 2.03 Valid. */
  etags?: Uint8Array[];
  /** Extra Uri-Query entries ("k=v"), after those in the URI. */
  query?: string[];
  /** Any further options. */
  options?: CoapOption[];
  /**
   * Response classes the server should not send (RFC 7967 No-Response): `[2]` for "no 2.xx". A declined
   * response never comes, so `request()` then ends in TimeoutError where the server would have sent one;
   * declining all three is what `send()` is for, and `request()` refuses it.
   */
  noResponse?: readonly ResponseClass[];
  /** CON (default) or NON. */
  confirmable?: boolean;
  /**
   * Give up after this many ms (each exchange of a block-wise transfer). By default a CON fails when its
   * retransmissions run out, and a separate response gets MAX_TRANSMIT_WAIT from its empty ACK; a NON gets
   * MAX_TRANSMIT_WAIT.
   */
  timeout?: number;
  /** Block size for block-wise transfers, 16 … 1024 bytes (default 1024); given, it is asked for up front. */
  blockSize?: number;
  /** Cancels the request. */
  signal?: AbortSignal;
  /** Largest response body reassembled from Block2 blocks, in bytes (default the client's, 16 MiB). */
  maxBodySize?: number;
  /** Longest a response's Block2 transfer may take, in ms from its first block (default the client's, 5 min). */
  transferTimeout?: number;
  /**
   * Called per block of a block-wise transfer (RFC 7959): each Block1 block of the body the server took
   * (`total` is the body's size, sent as Size1), each Block2 block of the response that came (`total` is
   * the server's Size2 estimate, when it sent one). `bytes` counts the body so far; a Block2 transfer that
   * starts over (the ETag changed) counts from 0 again. Not called for a message that needs no blocks.
   */
  onProgress?: (
    progress: { direction: "upload" | "download"; block: number; bytes: number; total?: number },
  ) => void;
}

/** Options of `send()`: those of a request that shape the request itself. */
export type SendOptions = Pick<
  RequestOptions,
  "method" | "payload" | "contentFormat" | "accept" | "query" | "options" | "confirmable"
>;

/** Options of a client. */
export interface ClientOptions extends EndpointOptions {
  /** Token length in bytes, 1-8 (default 4). */
  tokenLength?: number;
  /** Use this endpoint instead of UDP sockets (an in-memory link in tests). */
  endpoint?: Endpoint;
  /** Fills tokens and Request-Tags with random bytes (default crypto.getRandomValues); seeded in simulations, so runs repeat. */
  random?: (bytes: Uint8Array) => Uint8Array;
  /**
   * Largest response body reassembled from Block2 blocks, in bytes (default 16 MiB): the server decides how
   * many blocks there are, so without a bound it decides how much memory the client uses.
   */
  maxBodySize?: number;
  /** Longest a response's Block2 transfer may take, in ms from its first block (default 5 minutes). */
  transferTimeout?: number;
  /** Credentials and settings for coaps:// URIs (RFC 7252 §9); without them a coaps URI is refused. */
  dtls?: DtlsClientOptions;
  /** The UDP transport: "batched" (recvmmsg/sendmmsg, Linux with FFI), "deno" or "auto" (default; see udpTransportFor). */
  udp?: UdpChoice;
}

interface Pending {
  readonly deliver: (inbound: Inbound) => void;
  /** Fails a request still waiting for its response (not an observation's later notifications). */
  readonly fail?: (error: Error) => void;
}

/**
 * A CoAP client.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * const server = new CoapServer(new Site().add("temperature", { get: () => "22.5" }), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const client = new CoapClient();
 * const response = await client.get(`coap://127.0.0.1:${server.address.port}/temperature`);
 * assert.equal(`${response.codeString} ${response.text()}`, "2.05 22.5");
 * client.close();
 * server.close();
 * ```
 */
export class CoapClient {
  readonly #options: ClientOptions;
  readonly #tokenLength: number;
  readonly #random: (bytes: Uint8Array) => Uint8Array;
  readonly #endpoints = new Map<string, Endpoint>();
  /** The DTLS transport under each coaps endpoint. */
  readonly #dtls = new Map<Endpoint, DtlsClientTransport>();
  readonly #pending = new Map<string, Pending>();
  /** Observations still running, which close() ends (their re-registration timers would outlive it). */
  readonly #observations = new Set<Observation>();
  /** The address each multi-address target was found to answer on (see #resolve), by scheme and addresses. */
  readonly #chosen = new Map<string, Promise<Address | undefined>>();
  #closed = false;

  /** A client with no sockets yet: each address family (and coaps://) gets its own endpoint on first use. */
  constructor(options: ClientOptions = {}) {
    this.#options = options;
    this.#tokenLength = options.tokenLength ?? 4;
    this.#random = options.random ?? ((bytes) => crypto.getRandomValues(bytes));
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
   * server sent RST) or the signal's reason; RangeError when `noResponse`
   * declines every response class, as no response can come (use `send()`).
   */
  async request(uri: string | URL, options: RequestOptions = {}): Promise<CoapResponse> {
    if (ALL_RESPONSE_CLASSES.every((responseClass) => options.noResponse?.includes(responseClass))) {
      throw new RangeError("noResponse declines every response: send() is the call that expects none");
    }
    const target = await this.#resolve(uri, options.timeout);
    const endpoint = await this.#endpointFor(target);
    const peer = endpoint.peer(target.address);
    const szx = blockSzx(options.blockSize);
    const payload = typeof options.payload === "string"
      ? encodeString(options.payload)
      : options.payload ?? EMPTY;
    const uploading = payload.length > blockSize(szx);
    // RFC 9175: a Request-Tag keeps this body apart from any other the client sends the same resource; the
    // Block2 continuations of the answer repeat it, as they repeat the other options (RFC 7959 §2.7).
    const message: Outgoing = {
      code: METHOD_CODES[options.method ?? "GET"],
      token: this.#newToken(peer),
      options: [...target.options, ...requestOptions(options)],
      payload,
    };
    if (uploading) {
      message.options.push({ number: OptionNumber.RequestTag, value: this.#random(new Uint8Array(4)) });
    }
    const progress = new BlockProgress(options.onProgress);
    const send = progress.reporting(this.#blockSender(endpoint, peer, options));
    const response = uploading
      ? await uploadBlock1(send, message, szx)
      // RFC 7959 §2.4: asking for a block size up front ("early negotiation") when the caller chose one.
      : progress.report(
        await this.#exchange(
          endpoint,
          peer,
          options.blockSize === undefined ? message : withBlock2(message, 0, szx),
          options,
        ),
      );
    return await completeBlock2(send, continuation(message, uploading), response, {
      ...this.#limits(endpoint, options),
      signal: options.signal,
      askedSzx: options.blockSize === undefined || uploading ? undefined : szx,
    });
  }

  /**
   * Sends a request that wants no response (RFC 7967 No-Response declining 2.xx, 4.xx and 5.xx): a NON
   * resolves once sent, a CON once acknowledged, and rejects with TimeoutError or ResetError when no ACK
   * comes. The payload must fit one datagram (at most 1024 bytes), since a Block1 upload needs each block's
   * 2.31 answer. A response the server sends anyway is piggybacked in the ACK and dropped, or rejected (RST).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CoapClient, CoapServer, Site } from "../mod.ts";
   * const readings: string[] = [];
   * const site = new Site().add("readings", { post: (request) => void readings.push(request.text()) });
   * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
   * const client = new CoapClient();
   * const uri = `coap://127.0.0.1:${server.address.port}/readings`;
   * await client.send(uri, { method: "POST", payload: "21.5" });
   * assert.deepEqual(readings, ["21.5"]); // the empty ACK came after the handler ran
   * client.close();
   * server.close();
   * ```
   */
  async send(uri: string | URL, options: SendOptions = {}): Promise<void> {
    const target = await this.#resolve(uri);
    const endpoint = await this.#endpointFor(target);
    const peer = endpoint.peer(target.address);
    const payload = typeof options.payload === "string"
      ? encodeString(options.payload)
      : options.payload ?? EMPTY;
    if (payload.length > blockSize(blockSzx(undefined))) {
      throw new RangeError(`a ${payload.length}-byte payload needs Block1, whose blocks need answers`);
    }
    const message: Outgoing = {
      code: METHOD_CODES[options.method ?? "GET"],
      token: this.#newToken(peer),
      options: [...target.options, ...requestOptions({ ...options, noResponse: ALL_RESPONSE_CLASSES })],
      payload,
    };
    if (options.confirmable === false) endpoint.sendNonConfirmable(message, peer);
    else await endpoint.sendConfirmable(message, peer);
  }

  /**
   * Observes a resource (RFC 7641): resolves once the first response is in;
   * iterate the result for notifications, and leave the loop (or call
   * `cancel()`) to deregister. If the server does not offer an observation,
   * the iteration ends at once and `observation.response` is all there is.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CoapClient, CoapServer, observable, Site } from "../mod.ts";
   * const temperature = observable({ get: () => "22.5" });
   * const server = new CoapServer(new Site().add("temperature", temperature), { hostname: "127.0.0.1", port: 0 });
   * const client = new CoapClient();
   * const observation = await client.observe(`coap://127.0.0.1:${server.address.port}/temperature`);
   * assert.equal(observation.response.text(), "22.5");
   * temperature.changed();
   * for await (const notification of observation) {
   *   assert.equal(notification.text(), "22.5");
   *   break;
   * }
   * client.close();
   * server.close();
   * ```
   */
  async observe(
    uri: string | URL,
    options: Omit<RequestOptions, "method" | "payload"> = {},
  ): Promise<Observation> {
    const target = await this.#resolve(uri, options.timeout);
    const endpoint = await this.#endpointFor(target);
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
    const send = this.#blockSender(endpoint, peer, options);
    const limits = this.#limits(endpoint, options);
    const complete = (response: CoapResponse, signal?: AbortSignal) =>
      completeBlock2(send, continuation(register, false), response, { ...limits, signal });
    // Notifications that arrive while the first response is completed wait for the observation; the
    // latest is enough, as it supersedes the others.
    let early: CoapResponse | undefined;
    let deliver: (notification: CoapResponse) => void = (notification) => early = notification;
    const registered = await this.#exchange(endpoint, peer, register, options, (n) => deliver(n));
    let first: CoapResponse;
    try {
      first = await complete(registered, options.signal);
    } catch (error) {
      // Unregistered here, the server's next notification gets RST, which ends it there (RFC 7641 §3.6).
      this.#pending.delete(key);
      throw error;
    }
    let attempt: Exchange | undefined;
    const abandon = () => {
      if (attempt !== undefined) {
        endpoint.cancel(attempt, new Error("a newer re-registration took its place"));
      }
    };
    const observation = new Observation(first, {
      clock: endpoint.clock,
      reregister: () => {
        abandon();
        attempt = endpoint.confirmable(register, peer);
        attempt.acknowledged.catch(() => {});
      },
      complete,
      ended: () => {
        abandon();
        this.#pending.delete(key);
        this.#observations.delete(observation);
      },
      deregister: async () => {
        // Closed, the client has no socket left to send it on.
        if (this.#closed) return;
        const deregister = { ...register, options: register.options.map(deregistering) };
        await this.#exchange(endpoint, peer, deregister, { timeout: options.timeout }).catch(() => {});
      },
    });
    deliver = (notification) => observation.deliver(notification);
    if (early !== undefined) observation.deliver(early);
    if (observation.active) this.#observations.add(observation);
    else this.#pending.delete(key);
    return observation;
  }

  /** Sends each block of a transfer as its own exchange, with a fresh token. */
  #blockSender(endpoint: Endpoint, peer: Peer, options: RequestOptions): SendBlock {
    return (message, signal) =>
      this.#exchange(endpoint, peer, { ...message, token: this.#newToken(peer) }, {
        ...options,
        signal: signal ?? options.signal,
      });
  }

  /** The bounds on a Block2 reassembly: the request's, else the client's, else the defaults. */
  #limits(endpoint: Endpoint, options: RequestOptions): Block2Limits {
    const maxBodySize = options.maxBodySize ?? this.#options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE;
    const transferTimeout = options.transferTimeout ?? this.#options.transferTimeout ??
      DEFAULT_TRANSFER_TIMEOUT_MS;
    if (!(Number.isSafeInteger(maxBodySize) && maxBodySize >= 0)) {
      throw new RangeError(`maxBodySize ${maxBodySize} is not a number of bytes`);
    }
    if (!(transferTimeout > 0)) throw new RangeError(`transferTimeout ${transferTimeout} must be > 0 ms`);
    return { maxBodySize, transferTimeout, clock: endpoint.clock };
  }

  /**
   * Sends `message` and resolves with the first response carrying its token.
   * With `follow`, the token stays registered and later responses go there
   * (notifications) until the caller removes it. A 4.01 carrying an Echo
   * option asks for the same request again with that value (RFC 9175 §2.3,
   * a server checking that this address is ours): it is sent once more.
   */
  async #exchange(
    endpoint: Endpoint,
    peer: Peer,
    message: Outgoing,
    options: Pick<RequestOptions, "confirmable" | "timeout" | "signal">,
    follow?: (response: CoapResponse) => void,
  ): Promise<CoapResponse> {
    const response = await this.#exchangeOnce(endpoint, peer, message, options, follow);
    const echo = response.code === Code.Unauthorized ? response.option(OptionNumber.Echo) : undefined;
    if (echo === undefined || message.options.some((o) => o.number === OptionNumber.Echo)) return response;
    const repeated = {
      ...message,
      options: [...message.options, { number: OptionNumber.Echo, value: echo.slice() }],
    };
    return await this.#exchangeOnce(endpoint, peer, repeated, options, follow);
  }

  #exchangeOnce(
    endpoint: Endpoint,
    peer: Peer,
    message: Outgoing,
    options: Pick<RequestOptions, "confirmable" | "timeout" | "signal">,
    follow?: (response: CoapResponse) => void,
  ): Promise<CoapResponse> {
    const key = pendingKey(peer, message.token);
    const clock = endpoint.clock;
    const timeout = options.timeout ?? maxTransmitWait(endpoint.parameters);
    // A CON with the default timeout is failed by the message layer itself when no ACK comes (its reason says
    // so); the timer then only bounds the wait for a separate response after an empty ACK. Started at once,
    // it raced that give-up, which falls at MAX_TRANSMIT_WAIT too.
    const timedFromAck = options.timeout === undefined && options.confirmable !== false;
    return new Promise<CoapResponse>((resolve, reject) => {
      let settled = false;
      let timer: TimerHandle | undefined;
      let exchange: Exchange | undefined;
      const finish = (error: unknown, response?: CoapResponse) => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clock.cancel(timer);
        // Given up on (aborted, timed out): the CON stops being retransmitted, or being queued behind NSTART,
        // so abandoned requests — block fetches a newer notification made moot — do not pile up.
        if (response === undefined && exchange !== undefined) {
          endpoint.cancel(exchange, new Error("nobody waits for the response any more"));
        }
        options.signal?.removeEventListener("abort", abort);
        if (follow === undefined || response === undefined) this.#pending.delete(key);
        else {this.#pending.set(key, {
            deliver: (inbound) => follow(new CoapResponse(inbound.message, inbound.peer.address)),
          });}
        if (response) resolve(response);
        else reject(error);
      };
      const abort = () => finish(options.signal?.reason ?? new Error("request aborted"));
      const startTimer = () => {
        timer = clock.setTimer(
          () => finish(new TimeoutError(`no response from ${peer.key} within ${Math.round(timeout)} ms`)),
          timeout,
        );
      };
      if (!timedFromAck) startTimer();
      options.signal?.addEventListener("abort", abort);
      this.#pending.set(key, {
        deliver: (inbound) => finish(undefined, new CoapResponse(inbound.message, inbound.peer.address)),
        fail: (error) => finish(error),
      });
      if (options.signal?.aborted) return abort();
      if (options.confirmable === false) {
        endpoint.sendNonConfirmable(message, peer);
      } else {
        // An empty ACK means a separate response will follow.
        exchange = endpoint.confirmable(message, peer);
        exchange.acknowledged.then(() => {
          if (!settled && timer === undefined) startTimer();
        }, (error) => finish(error));
      }
    });
  }

  /** Closes the client's sockets; open requests fail, and observations end (without deregistering). */
  close(): void {
    this.#closed = true;
    for (const observation of this.#observations) observation.cancel();
    for (const endpoint of this.#endpoints.values()) endpoint.close();
    this.#endpoints.clear();
    this.#dtls.clear();
  }

  /**
   * Resolves a URI to the address the request goes to. A host with several addresses (a name: "localhost"
   * is 127.0.0.1 and ::1) is probed on all at once, and the first to answer is used, and kept for later
   * requests of this client: for coap:// with a CoAP ping (RFC 7252 §4.3), for coaps:// with the DTLS
   * handshake. Neither runs a handler, so a request is only ever sent to one address. When no address
   * answers within ACK_TIMEOUT (or `timeout`), coap:// sends to the first address as if it had not
   * probed (and fails there as it would have), coaps:// fails with the first address's DtlsError.
   */
  async #resolve(uri: string | URL, timeout?: number): Promise<RequestTarget> {
    const target = await resolveCoapUri(uri);
    if (target.addresses.length < 2) return target;
    const key = `${target.secure ? "coaps" : "coap"} ${target.addresses.map(addressKey).join(" ")}`;
    let chosen = this.#chosen.get(key);
    if (chosen === undefined) {
      chosen = this.#choose(target, timeout);
      this.#chosen.set(key, chosen);
      // Nothing answered, or the handshakes failed: the next request probes again.
      const forget = () => void this.#chosen.delete(key);
      chosen.then((address) => address === undefined && forget(), forget);
    }
    const address = await chosen;
    return address === undefined ? target : { ...target, address };
  }

  /** The first of a target's addresses to answer (see #resolve); undefined when no coap:// one does. */
  async #choose(target: RequestTarget, timeout?: number): Promise<Address | undefined> {
    const done = new AbortController();
    const probes = target.addresses.map(async (address) => {
      const endpoint = await this.#endpointFor({ ...target, address }); // coaps://: the handshake
      if (target.secure) return address;
      const deadline = Math.min(timeout ?? Infinity, endpoint.parameters.ackTimeout);
      if (await endpoint.ping(endpoint.peer(address), { timeout: deadline, signal: done.signal })) {
        return address;
      }
      throw new Error(`no answer to a CoAP ping from ${addressKey(address)}`);
    });
    try {
      return await Promise.any(probes);
    } catch (error) {
      if (target.secure) throw (error as AggregateError).errors[0];
      return undefined;
    } finally {
      done.abort(); // the pings still out are answered by now, or no longer needed
    }
  }

  /** The endpoint for a target; for coaps://, once its DTLS session is up (DtlsError if it fails). */
  async #endpointFor(target: RequestTarget): Promise<Endpoint> {
    const given = this.#endpoints.get("given");
    if (given) return given;
    const { address, secure } = target;
    const name = `${secure ? "coaps-" : ""}${address.hostname.includes(":") ? "ipv6" : "ipv4"}`;
    let endpoint = this.#endpoints.get(name);
    if (!endpoint) {
      const udp = udpTransportFor({ hostname: wildcardFor(address.hostname), udp: this.#options.udp });
      let transport: Transport = udp;
      if (secure) {
        if (!this.#options.dtls) {
          udp.close();
          throw new URIError("coaps:// needs DTLS credentials (the client's dtls option)");
        }
        transport = dtlsClientTransport(udp, this.#options.dtls);
      }
      endpoint = new Endpoint(transport, this.#options);
      this.#adopt(name, endpoint);
      if (secure) this.#dtls.set(endpoint, transport as DtlsClientTransport);
    }
    await this.#dtls.get(endpoint)?.connect(address);
    return endpoint;
  }

  #adopt(name: string, endpoint: Endpoint): void {
    this.#endpoints.set(name, endpoint);
    endpoint.onResponse = (inbound) => this.#receive(endpoint, inbound);
    // Its CONs have failed already; a NON request, or one whose separate response is awaited, fails too.
    endpoint.onUnreachable = (error) => {
      const prefix = `${addressKey(error.address)}/`;
      for (const [key, pending] of this.#pending) if (key.startsWith(prefix)) pending.fail?.(error);
    };
  }

  #receive(endpoint: Endpoint, inbound: Inbound): void {
    const pending = this.#pending.get(pendingKey(inbound.peer, inbound.message.token));
    if (pending === undefined) {
      // RFC 7252 §5.3.2, RFC 7641 §3.6: a response matching no open request or observation gets RST.
      endpoint.reject(inbound, true);
      return;
    }
    endpoint.acknowledge(inbound);
    pending.deliver(inbound);
  }

  #newToken(peer: Peer): Uint8Array {
    while (true) {
      const token = this.#random(new Uint8Array(this.#tokenLength));
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
  for (const value of options.ifMatch ?? []) list.push({ number: OptionNumber.IfMatch, value });
  for (const value of options.etags ?? []) list.push({ number: OptionNumber.ETag, value });
  if (options.ifNoneMatch) list.push({ number: OptionNumber.IfNoneMatch, value: EMPTY });
  for (const query of options.query ?? []) {
    list.push({ number: OptionNumber.UriQuery, value: encodeString(query) });
  }
  if (options.contentFormat !== undefined) {
    list.push({ number: OptionNumber.ContentFormat, value: encodeUint(options.contentFormat) });
  }
  if (options.accept !== undefined) {
    list.push({ number: OptionNumber.Accept, value: encodeUint(options.accept) });
  }
  if (options.noResponse !== undefined) {
    list.push({ number: OptionNumber.NoResponse, value: encodeNoResponse(options.noResponse) });
  }
  return [...list, ...(options.options ?? [])];
}

/** Turns the blocks of one request's transfers into RequestOptions.onProgress calls. */
class BlockProgress {
  readonly #onProgress: RequestOptions["onProgress"];
  /** The body's size, from the first Block1 request's Size1 (RFC 7959 §4). */
  #size1: number | undefined;
  /** The server's latest estimate of the response's size (Size2, RFC 7959 §4). */
  #size2: number | undefined;

  constructor(onProgress: RequestOptions["onProgress"]) {
    this.#onProgress = onProgress;
  }

  /** `send`, reporting what each block's exchange moved. */
  reporting(send: SendBlock): SendBlock {
    if (this.#onProgress === undefined) return send;
    return async (message, signal) => this.report(await send(message, signal), message);
  }

  /** Reports `response` (to `request`, when it was a block of an upload) and returns it. */
  report(response: CoapResponse, request?: Outgoing): CoapResponse {
    const onProgress = this.#onProgress;
    if (onProgress === undefined) return response;
    const block1 = request?.options.find((o) => o.number === OptionNumber.Block1);
    // 2.31 Continue for each block but the last, which the final response answers (RFC 7959 §2.3).
    if (block1 !== undefined && response.isSuccess) {
      const { num, szx } = decodeBlock(block1.value);
      const size1 = request!.options.find((o) => o.number === OptionNumber.Size1);
      if (size1 !== undefined) this.#size1 = decodeUint(size1.value);
      const bytes = num * blockSize(szx) + request!.payload.length;
      onProgress({ direction: "upload", block: num, bytes, total: this.#size1 });
    }
    const block2 = response.option(OptionNumber.Block2);
    if (block2 === undefined || !response.isSuccess) return response;
    const { num, szx } = decodeBlock(block2);
    const size2 = response.option(OptionNumber.Size2);
    if (size2 !== undefined) this.#size2 = decodeUint(size2);
    const bytes = num * blockSize(szx) + response.payload.length;
    onProgress({ direction: "download", block: num, bytes, total: this.#size2 });
    return response;
  }
}
