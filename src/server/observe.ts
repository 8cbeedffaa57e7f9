/**
 * RFC 7641 on the server: who observes which resource, and sending them
 * notifications built by the resource's own GET handler when it changes.
 * @module
 */
import { isSuccess } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { encodeUint } from "../message/option_value.ts";
import type { Endpoint, Outgoing, Peer } from "../endpoint/endpoint.ts";
import { ReplacedError } from "../endpoint/errors.ts";
import type { CoapRequest } from "./request.ts";
import type { Resource } from "./resource.ts";

/** How often a notification is Confirmable: every Nth (the lab's pattern is 5); 1 = all CON, 0 = all NON. */
export interface NotifyPolicy {
  conEvery: number;
}

/** A resource whose state changes are pushed to observers. */
export interface ObservableResource extends Resource {
  readonly obs: true;
  /** Confirmable-notification policy for this resource. */
  readonly notify: NotifyPolicy;
  /** Signals a new state: every observer gets a notification. */
  changed(): void;
}

const LISTENERS = Symbol("observe listeners");

/**
 * Makes a resource observable. Call `changed()` whenever its state changes.
 * @example
 * const temperature = observable({ get: () => reading.toFixed(1) });
 * setInterval(() => { reading += 0.1; temperature.changed(); }, 2000);
 */
export function observable<R extends Resource>(
  resource: R,
  policy: Partial<NotifyPolicy> = {},
): R & ObservableResource {
  const listeners = new Set<() => void>();
  return Object.assign(resource, {
    obs: true as const,
    notify: { conEvery: policy.conEvery ?? 5 },
    changed: () => listeners.forEach((listener) => listener()),
    [LISTENERS]: listeners,
  });
}

/** Whether a resource was made with observable(). */
export function isObservable(resource: Resource): resource is ObservableResource {
  return LISTENERS in resource;
}

/** Limits on observers, beyond which a GET with Observe gets a plain response (RFC 7641 §4.1). */
export interface ObserveLimits {
  perResource: number;
  perPeer: number;
}

/** RFC 7641 §4.3.1: a notification must be Confirmable at least once every 24 hours. */
const CON_AT_LEAST_EVERY_MS = 24 * 60 * 60 * 1000;
const SEQUENCE_MODULO = 1 << 24;
const RECENT_NON_KEPT = 8;
const DEFAULT_MAX_AGE = 60;

interface Observer {
  readonly key: string;
  readonly peer: Peer;
  readonly token: Uint8Array;
  readonly request: CoapRequest;
  readonly resource: ObservableResource;
  notifications: number;
  lastConfirmableAt: number;
  /** Message ID of a CON notification not yet acknowledged. */
  pendingConfirmable?: number;
  recentNonConfirmable: number[];
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
  readonly #byNonConfirmable = new Map<string, Observer>();

  constructor(endpoint: Endpoint, render: Render, limits: ObserveLimits) {
    this.#endpoint = endpoint;
    this.#render = render;
    this.#limits = limits;
    // RFC 7641 §3.6: an RST in answer to a notification cancels the observation.
    endpoint.onReset = (peer, messageId) => {
      const observer = this.#byNonConfirmable.get(`${peer.key}#${messageId}`);
      if (observer) this.#remove(observer);
    };
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
    const key = observerKey(peer, request.message.token);
    const observed = this.#resources.get(resource);
    const existing = observed?.observers.get(key);
    if (observe.length > 0 && observe[observe.length - 1] === 1) {
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
        recentNonConfirmable: [],
      });
      this.#perPeer.set(peer.key, (this.#perPeer.get(peer.key) ?? 0) + 1);
    }
    return withObserve(response, state.sequence);
  }

  /** Ends every observation (the server is closing). */
  clear(): void {
    for (const observed of this.#resources.values()) observed.unsubscribe();
    this.#resources.clear();
    this.#perPeer.clear();
    this.#byNonConfirmable.clear();
  }

  #hasRoom(peer: Peer, observed: Observed | undefined): boolean {
    return (observed?.observers.size ?? 0) < this.#limits.perResource &&
      (this.#perPeer.get(peer.key) ?? 0) < this.#limits.perPeer;
  }

  #watch(resource: ObservableResource): Observed {
    const listeners = (resource as unknown as Record<symbol, Set<() => void>>)[LISTENERS];
    const listener = () => this.#changed(resource);
    listeners.add(listener);
    const observed: Observed = {
      sequence: 0,
      observers: new Map(),
      unsubscribe: () => listeners.delete(listener),
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

  #notify(observer: Observer, response: Outgoing, sequence: number): void {
    const observed = this.#resources.get(observer.resource);
    if (!observed?.observers.has(observer.key)) return;
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
    const confirmable = observer.pendingConfirmable !== undefined ||
      (conEvery > 0 && observer.notifications % conEvery === 0) ||
      now - observer.lastConfirmableAt >= CON_AT_LEAST_EVERY_MS;
    if (!confirmable) {
      const messageId = this.#endpoint.sendNonConfirmable(notification, observer.peer);
      this.#rememberNonConfirmable(observer, messageId);
      return;
    }
    observer.lastConfirmableAt = now;
    const onTransmit = (messageId: number) => observer.pendingConfirmable = messageId;
    const sent = observer.pendingConfirmable === undefined
      ? this.#endpoint.sendConfirmable(notification, observer.peer, onTransmit)
      // RFC 7641 §4.5.2: the newer state takes over the unacknowledged notification's transmission.
      : this.#endpoint.replaceConfirmable(
        observer.pendingConfirmable,
        notification,
        observer.peer,
        onTransmit,
      );
    sent.then(
      () => observer.pendingConfirmable = undefined,
      (error) => {
        // RST or no ACK after MAX_RETRANSMIT: the client is gone (RFC 7641 §4.5).
        if (!(error instanceof ReplacedError)) this.#remove(observer);
      },
    );
  }

  #rememberNonConfirmable(observer: Observer, messageId: number): void {
    observer.recentNonConfirmable.push(messageId);
    this.#byNonConfirmable.set(`${observer.peer.key}#${messageId}`, observer);
    if (observer.recentNonConfirmable.length > RECENT_NON_KEPT) {
      this.#byNonConfirmable.delete(`${observer.peer.key}#${observer.recentNonConfirmable.shift()}`);
    }
  }

  #remove(observer: Observer): void {
    const observed = this.#resources.get(observer.resource);
    if (!observed?.observers.delete(observer.key)) return;
    for (const messageId of observer.recentNonConfirmable) {
      this.#byNonConfirmable.delete(`${observer.peer.key}#${messageId}`);
    }
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
