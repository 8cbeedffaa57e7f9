/**
 * RFC 7641 on the server: who observes which resource, within limits per
 * resource, per peer, per IP address and in all, and turning each change of
 * a resource into notifications built by its own GET handler — run once per
 * form of request (observers whose GETs are alike share it, see
 * NotifyPolicy.renderPerPeer), not once per observer. Observations are keyed
 * by (peer, token); the Notifier (notifier.ts) decides when each goes out,
 * and tells which observations end. A change's notifications reach the
 * endpoint as one batch.
 * @module
 */
import { isSuccess } from "../message/code.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeUint, encodeString, encodeUint } from "../message/option_value.ts";
import type { Endpoint, Outgoing, Peer } from "../endpoint/endpoint.ts";
import type { CoapRequest } from "./request.ts";
import type { Resource } from "./resource.ts";
import { type Ending, isObservable, type ObservableResource, onChange } from "./observable.ts";
import type { ObserveLimits } from "./limits.ts";
import { CON_AT_LEAST_EVERY_MS, Notifier, type Observation } from "./notifier.ts";
import type { TimerHandle } from "../endpoint/clock.ts";
import { type Address, addressKey } from "../transport/transport.ts";

export type { ObserveLimits } from "./limits.ts";

const SEQUENCE_MODULO = 1 << 24;
const EMPTY = new Uint8Array(0);
const DEFAULT_MAX_AGE = 60;
/** Observe values in a GET (RFC 7641 §2). */
const REGISTER = 0;
const DEREGISTER = 1;
/** How often observations are looked over for one that has had no Confirmable notification for a day. */
const CHECK_EVERY_MS = 60 * 60 * 1000;

interface Observer extends Observation {
  readonly token: Uint8Array;
  /** The form of its latest registration (RFC 7641 §4.1: a new one with the same token replaces the old). */
  form: Form;
  /** Lets go of the peer's table entry, which the observation keeps. */
  readonly release: () => void;
}

/** The observers of one resource whose GETs ask for the same representation: one rendering serves all. */
interface Form {
  readonly key: string;
  /** The GET a rendering runs: one of the form's registrations (they are alike in all the handler sees). */
  request: CoapRequest;
  readonly observers: Set<Observer>;
  /** A notification is being rendered; `stale` says the resource changed again meanwhile. */
  rendering: boolean;
  stale: boolean;
  /** Observers owed the current state once the rendering under way is done (the daily CON). */
  readonly owed: Set<Observer>;
}

interface Observed {
  readonly resource: ObservableResource;
  sequence: number;
  readonly observers: Map<string, Observer>;
  readonly forms: Map<string, Form>;
  readonly unsubscribe: () => void;
}

/** Renders a GET for an observer, as the server renders any request. */
export type Render = (request: CoapRequest) => Promise<Outgoing>;

/** The observers of one server. */
export class ObserveRegistry {
  readonly #endpoint: Endpoint;
  readonly #render: Render;
  readonly #limits: ObserveLimits;
  readonly #notifier: Notifier;
  readonly #resources = new Map<ObservableResource, Observed>();
  /** Observations by peer key, and counts by IP address (across ports). */
  readonly #byPeer = new Map<string, Set<Observer>>();
  readonly #byAddress = new Map<string, number>();
  #size = 0;
  #check?: TimerHandle;

  constructor(endpoint: Endpoint, render: Render, limits: ObserveLimits) {
    this.#endpoint = endpoint;
    this.#render = render;
    this.#limits = limits;
    this.#notifier = new Notifier(endpoint, {
      reset: (observation) => this.#remove(observation as Observer),
      gone: (peer) => this.#removePeer(peer.key),
    });
  }

  /**
   * An ICMP error said the client at `address` cannot be reached: its observations end at once, as after an
   * unacknowledged CON (RFC 7641 §4.5), whether its notifications are CONs or NONs.
   */
  unreachable(address: Address): void {
    this.#removePeer(addressKey(address));
  }

  /** Observers of all resources. */
  get size(): number {
    return this.#size;
  }

  /** Notifications waiting (at most one per observation) and peers with one in flight. */
  get notifications(): { waiting: number; inFlight: number } {
    return { waiting: this.#notifier.waiting, inFlight: this.#notifier.inFlight };
  }

  /**
   * Handles the Observe option of a GET whose response is ready: registers
   * (0) or deregisters (1) the client, and returns the response with the
   * Observe option when the client is now observing. When a limit leaves no
   * room, the response goes without Observe: the client is not observing.
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
    if (existing) {
      this.#leaveForm(existing, observed!);
      existing.form = this.#joinForm(observed!, request, resource, peer);
      existing.form.observers.add(existing);
    } else {
      if (!this.#hasRoom(peer, observed)) return response;
      const watched = observed ?? this.#watch(resource);
      const observer: Observer = {
        key,
        peer,
        token: request.message.token.slice(),
        form: this.#joinForm(watched, request, resource, peer),
        resource,
        notifications: 0,
        lastConfirmableAt: this.#endpoint.clock.now(),
        // The observation lives on the peer's entry: its Message IDs and the NONs it may reset.
        release: this.#endpoint.hold(peer),
      };
      observer.form.observers.add(observer);
      this.#add(watched, observer);
    }
    return withObserve(response, (observed ?? this.#resources.get(resource)!).sequence);
  }

  /** Ends every observation (the server is closing). */
  clear(): void {
    for (const observed of this.#resources.values()) {
      for (const observer of observed.observers.values()) observer.release();
      observed.unsubscribe();
    }
    this.#resources.clear();
    this.#byPeer.clear();
    this.#byAddress.clear();
    this.#notifier.clear();
    this.#size = 0;
    if (this.#check !== undefined) this.#endpoint.clock.cancel(this.#check);
    this.#check = undefined;
  }

  /** The form a registration belongs to, made when it is the first of its kind. */
  #joinForm(observed: Observed, request: CoapRequest, resource: ObservableResource, peer: Peer): Form {
    const key = formKey(request, resource.notify.renderPerPeer ? peer : undefined);
    let form = observed.forms.get(key);
    if (form === undefined) {
      form = { key, request, observers: new Set(), rendering: false, stale: false, owed: new Set() };
      observed.forms.set(key, form);
    }
    return form;
  }

  #leaveForm(observer: Observer, observed: Observed): void {
    const { form } = observer;
    form.observers.delete(observer);
    form.owed.delete(observer);
    if (form.observers.size === 0 && observed.forms.get(form.key) === form) observed.forms.delete(form.key);
  }

  #hasRoom(peer: Peer, observed: Observed | undefined): boolean {
    const limits = this.#limits;
    return this.#size < limits.total &&
      (observed?.observers.size ?? 0) < limits.perResource &&
      (this.#byPeer.get(peer.key)?.size ?? 0) < limits.perPeer &&
      (this.#byAddress.get(peer.address.hostname) ?? 0) < limits.perAddress;
  }

  #add(observed: Observed, observer: Observer): void {
    observed.observers.set(observer.key, observer);
    const { peer } = observer;
    let ofPeer = this.#byPeer.get(peer.key);
    if (ofPeer === undefined) {
      ofPeer = new Set();
      this.#byPeer.set(peer.key, ofPeer);
    }
    ofPeer.add(observer);
    this.#byAddress.set(peer.address.hostname, (this.#byAddress.get(peer.address.hostname) ?? 0) + 1);
    this.#size++;
    this.#check ??= this.#endpoint.clock.setTimer(() => this.#checkIdle(), CHECK_EVERY_MS);
  }

  /**
   * An observation of a resource that has not changed for a day gets its current state as a Confirmable
   * notification (RFC 7641 §4.5's daily CON, kept for resources that do not change): its client answers, or the CON
   * times out and the observation ends, so no observation outlives its client by more than a day.
   */
  #checkIdle(): void {
    this.#check = undefined;
    const now = this.#endpoint.clock.now();
    for (const observed of this.#resources.values()) {
      for (const form of observed.forms.values()) {
        const due = new Set<Observer>();
        for (const observer of form.observers) {
          if (now - observer.lastConfirmableAt >= CON_AT_LEAST_EVERY_MS) due.add(observer);
        }
        if (due.size > 0) this.#refresh(observed, form, due);
      }
    }
    if (this.#size > 0) this.#check = this.#endpoint.clock.setTimer(() => this.#checkIdle(), CHECK_EVERY_MS);
  }

  #watch(resource: ObservableResource): Observed {
    const observed: Observed = {
      resource,
      sequence: 0,
      observers: new Map(),
      forms: new Map(),
      unsubscribe: onChange(
        resource,
        (ending) => ending === undefined ? this.#changed(resource) : this.#terminate(resource, ending),
      ),
    };
    this.#resources.set(resource, observed);
    return observed;
  }

  #changed(resource: ObservableResource): void {
    const observed = this.#resources.get(resource);
    if (!observed) return;
    observed.sequence = (observed.sequence + 1) % SEQUENCE_MODULO;
    for (const form of observed.forms.values()) this.#refresh(observed, form);
  }

  /** RFC 7641 §3.2: every observer gets the error, which ends its observation. */
  #terminate(resource: ObservableResource, { code, diagnostic }: Ending): void {
    const observed = this.#resources.get(resource);
    if (!observed) return;
    const ending = { code, token: EMPTY, options: [], payload: encodeString(diagnostic) };
    this.#notify([...observed.observers.values()], ending, observed.sequence);
  }

  /**
   * Renders the form's notification, for all its observers or for `only` those; one render at a time,
   * then one more if the state moved on (or observers are owed one).
   */
  #refresh(observed: Observed, form: Form, only?: Set<Observer>): void {
    if (form.rendering) {
      if (only === undefined) form.stale = true;
      else for (const observer of only) form.owed.add(observer);
      return;
    }
    form.rendering = true;
    const sequence = observed.sequence;
    this.#render(form.request).then((response) => {
      form.rendering = false;
      if (this.#resources.get(observed.resource) !== observed || observed.forms.get(form.key) !== form) {
        return;
      }
      const recipients = only === undefined
        ? [...form.observers]
        : [...only].filter((observer) => observer.form === form && this.#isCurrent(observer));
      this.#notify(recipients, response, sequence);
      if (observed.forms.get(form.key) !== form) return;
      if (form.stale) {
        form.stale = false;
        form.owed.clear();
        this.#refresh(observed, form);
      } else if (form.owed.size > 0) {
        const owed = new Set(form.owed);
        form.owed.clear();
        this.#refresh(observed, form, owed);
      }
    });
  }

  #isCurrent(observer: Observer): boolean {
    return this.#resources.get(observer.resource)?.observers.get(observer.key) === observer;
  }

  /** One response as every recipient's notification, each with its own token; one batch for the endpoint. */
  #notify(recipients: Observer[], response: Outgoing, sequence: number): void {
    this.#endpoint.batch(() => {
      if (!isSuccess(response.code)) {
        // RFC 7641 §4.2: an error response ends the observation; it carries no Observe option.
        for (const observer of recipients) {
          this.#notifier.notify(observer, { ...response, token: observer.token }, true);
          this.#remove(observer);
        }
        return;
      }
      // RFC 7641 §4.4: the sequence number is the resource's, the same in every observer's notification.
      const notification = withObserve(response, sequence);
      for (const observer of recipients) {
        this.#notifier.notify(observer, { ...notification, token: observer.token });
      }
    });
  }

  #removePeer(key: string): void {
    for (const observer of this.#byPeer.get(key) ?? []) this.#remove(observer);
  }

  #remove(observer: Observer): void {
    if (!this.#isCurrent(observer)) return;
    const observed = this.#resources.get(observer.resource)!;
    observed.observers.delete(observer.key);
    this.#leaveForm(observer, observed);
    observer.release();
    this.#notifier.forget(observer);
    const { peer } = observer;
    const ofPeer = this.#byPeer.get(peer.key)!;
    ofPeer.delete(observer);
    if (ofPeer.size === 0) this.#byPeer.delete(peer.key);
    const fromAddress = this.#byAddress.get(peer.address.hostname)! - 1;
    if (fromAddress === 0) this.#byAddress.delete(peer.address.hostname);
    else this.#byAddress.set(peer.address.hostname, fromAddress);
    this.#size--;
    if (observed.observers.size === 0) {
      observed.unsubscribe();
      this.#resources.delete(observer.resource);
    }
  }
}

/**
 * What a GET handler sees of a registration, as a key: the message type, every option but Observe (the
 * path, query, Accept, ETags, Block2 size …) and the payload, the DTLS identity, and the peer when the
 * resource renders per peer. Registrations with one key get one rendering per change.
 */
function formKey(request: CoapRequest, peer: Peer | undefined): string {
  const { message } = request;
  let key = `${peer?.key ?? ""} ${JSON.stringify(request.identity ?? null)} ${message.type}`;
  for (const option of message.options) {
    if (option.number !== OptionNumber.Observe) key += ` ${option.number}=${hex(option.value)}`;
  }
  return `${key} ${hex(message.payload)}`;
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

function observerKey(peer: Peer, token: Uint8Array): string {
  return `${peer.key}/${hex(token)}`;
}

/** The response with Observe = sequence, and Max-Age (60 s unless the handler set one; RFC 7641 §4.3.1). */
function withObserve(response: Outgoing, sequence: number): Outgoing {
  const options: CoapOption[] = [{ number: OptionNumber.Observe, value: encodeUint(sequence) }];
  if (!response.options.some((option) => option.number === OptionNumber.MaxAge)) {
    options.push({ number: OptionNumber.MaxAge, value: encodeUint(DEFAULT_MAX_AGE) });
  }
  return { ...response, options: [...response.options, ...options] };
}
