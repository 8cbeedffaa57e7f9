/**
 * RFC 7641 on the server: who observes which resource, and sending them
 * notifications built by the resource's own GET handler when it changes.
 * Observations are keyed by (peer, token); the message layer's exchanges
 * stand for the notifications in flight.
 * @module
 */
import { isSuccess } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeUint, encodeUint } from "../message/option_value.ts";
import type { Endpoint, Exchange, Outgoing, Peer } from "../endpoint/endpoint.ts";
import { ReplacedError } from "../endpoint/errors.ts";
import type { CoapRequest } from "./request.ts";
import type { Resource } from "./resource.ts";
import { isObservable, type ObservableResource, onChange } from "./observable.ts";

/** Limits on observers, beyond which a GET with Observe gets a plain response (RFC 7641 §4.1). */
export interface ObserveLimits {
  perResource: number;
  perPeer: number;
}

/** RFC 7641 §4.3.1: a notification must be Confirmable at least once every 24 hours. */
const CON_AT_LEAST_EVERY_MS = 24 * 60 * 60 * 1000;
const SEQUENCE_MODULO = 1 << 24;
const DEFAULT_MAX_AGE = 60;
/** Observe values in a GET (RFC 7641 §2). */
const REGISTER = 0;
const DEREGISTER = 1;

interface Observer {
  readonly key: string;
  readonly peer: Peer;
  readonly token: Uint8Array;
  readonly request: CoapRequest;
  readonly resource: ObservableResource;
  notifications: number;
  lastConfirmableAt: number;
  /** The CON notification not yet acknowledged. */
  pending?: Exchange;
  /** Lets go of the peer's table entry, which the observation keeps. */
  readonly release: () => void;
}

interface Observed {
  sequence: number;
  readonly observers: Map<string, Observer>;
  readonly unsubscribe: () => void;
}

/** Renders a GET for an observer, as the server renders any request. */
export type Render = (request: CoapRequest) => Promise<Outgoing>;

/** The observers of one server. */
export class ObserveRegistry {
  readonly #endpoint: Endpoint;
  readonly #render: Render;
  readonly #limits: ObserveLimits;
  readonly #resources = new Map<ObservableResource, Observed>();
  readonly #perPeer = new Map<string, number>();

  constructor(endpoint: Endpoint, render: Render, limits: ObserveLimits) {
    this.#endpoint = endpoint;
    this.#render = render;
    this.#limits = limits;
  }

  /** Observers of all resources. */
  get size(): number {
    let size = 0;
    for (const observed of this.#resources.values()) size += observed.observers.size;
    return size;
  }

  /**
   * Handles the Observe option of a GET whose response is ready: registers
   * (0) or deregisters (1) the client, and returns the response with the
   * Observe option when the client is now observing.
   */
  respond(peer: Peer, request: CoapRequest, resource: Resource, response: Outgoing): Outgoing {
    const observe = request.option(OptionNumber.Observe);
    if (observe === undefined || !isObservable(resource)) return response;
    const action = decodeUint(observe);
    // RFC 7641 §2 defines 0 and 1 in a request; with any other value the GET is a plain one.
    if (action !== REGISTER && action !== DEREGISTER) return response;
    const key = observerKey(peer, request.message.token);
    const observed = this.#resources.get(resource);
    const existing = observed?.observers.get(key);
    if (action === DEREGISTER) {
      if (existing) this.#remove(existing);
      return response;
    }
    if (!isSuccess(response.code)) {
      if (existing) this.#remove(existing);
      return response;
    }
    if (!existing && !this.#hasRoom(peer, observed)) return response;
    const state = observed ?? this.#watch(resource);
    if (!existing) {
      state.observers.set(key, {
        key,
        peer,
        token: request.message.token.slice(),
        request,
        resource,
        notifications: 0,
        lastConfirmableAt: this.#endpoint.clock.now(),
        // The observation lives on the peer's entry: its Message IDs and the NONs it may reset.
        release: this.#endpoint.hold(peer),
      });
      this.#perPeer.set(peer.key, (this.#perPeer.get(peer.key) ?? 0) + 1);
    }
    return withObserve(response, state.sequence);
  }

  /** Ends every observation (the server is closing). */
  clear(): void {
    for (const observed of this.#resources.values()) {
      for (const observer of observed.observers.values()) observer.release();
      observed.unsubscribe();
    }
    this.#resources.clear();
    this.#perPeer.clear();
  }

  #hasRoom(peer: Peer, observed: Observed | undefined): boolean {
    return (observed?.observers.size ?? 0) < this.#limits.perResource &&
      (this.#perPeer.get(peer.key) ?? 0) < this.#limits.perPeer;
  }

  #watch(resource: ObservableResource): Observed {
    const observed: Observed = {
      sequence: 0,
      observers: new Map(),
      unsubscribe: onChange(resource, () => this.#changed(resource)),
    };
    this.#resources.set(resource, observed);
    return observed;
  }

  #changed(resource: ObservableResource): void {
    const observed = this.#resources.get(resource);
    if (!observed) return;
    observed.sequence = (observed.sequence + 1) % SEQUENCE_MODULO;
    for (const observer of observed.observers.values()) {
      this.#render(observer.request).then((response) => this.#notify(observer, response, observed.sequence));
    }
  }

  #isCurrent(observer: Observer): boolean {
    return this.#resources.get(observer.resource)?.observers.get(observer.key) === observer;
  }

  #notify(observer: Observer, response: Outgoing, sequence: number): void {
    if (!this.#isCurrent(observer)) return;
    if (!isSuccess(response.code)) {
      // RFC 7641 §4.2: an error response ends the observation; it carries no Observe option.
      this.#remove(observer);
      this.#endpoint.sendConfirmable(response, observer.peer).catch(() => {});
      return;
    }
    const notification = withObserve({ ...response, token: observer.token }, sequence);
    const now = this.#endpoint.clock.now();
    observer.notifications++;
    const { conEvery } = observer.resource.notify;
    const confirmable = observer.pending !== undefined ||
      (conEvery > 0 && observer.notifications % conEvery === 0) ||
      now - observer.lastConfirmableAt >= CON_AT_LEAST_EVERY_MS;
    if (!confirmable) {
      // RFC 7641 §3.6: an RST in answer to a notification cancels the observation.
      this.#endpoint.sendNonConfirmable(notification, observer.peer, () => this.#remove(observer));
      return;
    }
    observer.lastConfirmableAt = now;
    // RFC 7641 §4.5.2: the newer state takes over the unacknowledged notification's transmission.
    const exchange = observer.pending === undefined
      ? this.#endpoint.confirmable(notification, observer.peer)
      : this.#endpoint.replaceConfirmable(observer.pending, notification, observer.peer);
    observer.pending = exchange;
    exchange.acknowledged.then(
      () => {
        if (observer.pending === exchange) observer.pending = undefined;
      },
      (error) => {
        // RST or no ACK after MAX_RETRANSMIT: the client is gone (RFC 7641 §4.5).
        if (!(error instanceof ReplacedError)) this.#remove(observer);
      },
    );
  }

  #remove(observer: Observer): void {
    if (!this.#isCurrent(observer)) return;
    const observed = this.#resources.get(observer.resource)!;
    observed.observers.delete(observer.key);
    observer.release();
    const count = (this.#perPeer.get(observer.peer.key) ?? 1) - 1;
    if (count === 0) this.#perPeer.delete(observer.peer.key);
    else this.#perPeer.set(observer.peer.key, count);
    if (observed.observers.size === 0) {
      observed.unsubscribe();
      this.#resources.delete(observer.resource);
    }
  }
}

function observerKey(peer: Peer, token: Uint8Array): string {
  let key = peer.key + "/";
  for (const byte of token) key += byte.toString(16).padStart(2, "0");
  return key;
}

/** The response with Observe = sequence, and Max-Age (60 s unless the handler set one; RFC 7641 §4.3.1). */
function withObserve(response: Outgoing, sequence: number): Outgoing {
  const options: CoapOption[] = [{ number: OptionNumber.Observe, value: encodeUint(sequence) }];
  if (!response.options.some((option) => option.number === OptionNumber.MaxAge)) {
    options.push({ number: OptionNumber.MaxAge, value: encodeUint(DEFAULT_MAX_AGE) });
  }
  return { ...response, options: [...response.options, ...options] };
}
