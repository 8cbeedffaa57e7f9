/**
 * Sending Observe notifications without congesting the path to a client (RFC 7641 §4.5.1): per peer at
 * most one notification in flight (a CON until it is acknowledged or times out), and per observation only
 * the newest state waiting behind it. A newer state for the observation whose CON is in flight takes over
 * that CON's retransmissions (§4.5.2). To a peer that has not answered recently nothing new goes out
 * faster than PROBING_RATE, and what goes is Confirmable, so such a peer either answers or, when the CON
 * times out, is taken for gone with all its observations (RFC 7252 §4.7).
 * @module
 */
import type { Endpoint, Exchange, Outgoing, Peer } from "../endpoint/endpoint.ts";
import type { TimerHandle } from "../endpoint/clock.ts";
import { ReplacedError, TimeoutError, UnreachableError } from "../endpoint/errors.ts";
import type { ObservableResource } from "./observable.ts";

/** RFC 7641 §4.5: a notification must be Confirmable at least once every 24 hours. */
export const CON_AT_LEAST_EVERY_MS = 24 * 60 * 60 * 1000;

/** What the notifier needs of an observation. */
export interface Observation {
  /** Unique per observation (peer and token). */
  readonly key: string;
  readonly peer: Peer;
  readonly resource: ObservableResource;
  /** Notifications sent so far, for the resource's conEvery policy. */
  notifications: number;
  lastConfirmableAt: number;
}

/** What ends observations, as the notifier learns it. */
export interface NotifierEvents {
  /** An RST answered one of the observation's notifications (RFC 7641 §3.6), or it could not be sent. */
  reset(observation: Observation): void;
  /** A CON notification went unacknowledged after MAX_RETRANSMIT: the peer is gone. */
  gone(peer: Peer): void;
}

interface Waiting {
  readonly observation: Observation;
  readonly notification: Outgoing;
  /** An error response that ends the observation (RFC 7641 §4.2): sent Confirmable, never replaced. */
  readonly final: boolean;
}

interface InFlight {
  readonly observation: Observation;
  readonly exchange: Exchange;
  readonly final: boolean;
}

/** One peer's notifications. */
interface PeerNotifications {
  readonly key: string;
  /** Newest state per observation, in the order the observations first had one waiting. */
  readonly waiting: Map<string, Waiting>;
  inFlight?: InFlight;
  /** Waiting for PROBING_RATE. */
  timer?: TimerHandle;
}

/** The notifications of one server, per peer. */
export class Notifier {
  readonly #endpoint: Endpoint;
  readonly #events: NotifierEvents;
  readonly #peers = new Map<string, PeerNotifications>();

  constructor(endpoint: Endpoint, events: NotifierEvents) {
    this.#endpoint = endpoint;
    this.#events = events;
  }

  /** Notifications waiting across peers (at most one per observation). */
  get waiting(): number {
    let count = 0;
    for (const peer of this.#peers.values()) count += peer.waiting.size;
    return count;
  }

  /** Peers with a notification in flight. */
  get inFlight(): number {
    let count = 0;
    for (const peer of this.#peers.values()) if (peer.inFlight !== undefined) count++;
    return count;
  }

  /**
   * Sends the observation's newest state now, or as soon as the peer's notification in flight and
   * PROBING_RATE allow; an older state still waiting is dropped for it.
   */
  notify(observation: Observation, notification: Outgoing, final = false): void {
    const peer = this.#peerOf(observation.peer.key);
    const flight = peer.inFlight;
    if (flight !== undefined && flight.observation === observation && !flight.final) {
      // RFC 7641 §4.5.2: the newer state goes out in place of the unacknowledged one, on its schedule.
      const exchange = this.#endpoint.replaceConfirmable(flight.exchange, notification, observation.peer);
      this.#counted(observation, true);
      this.#track(peer, { observation, exchange, final });
      return;
    }
    // Map.set on a waiting observation keeps its place in line: a busy resource cannot starve the others.
    peer.waiting.set(observation.key, { observation, notification, final });
    this.#drain(peer);
  }

  /** The observation ended: its waiting state is dropped and its CON in flight stopped (not a final one). */
  forget(observation: Observation): void {
    const peer = this.#peers.get(observation.peer.key);
    if (peer === undefined) return;
    if (peer.waiting.get(observation.key)?.final === false) peer.waiting.delete(observation.key);
    const flight = peer.inFlight;
    if (flight !== undefined && flight.observation === observation && !flight.final) {
      peer.inFlight = undefined;
      this.#endpoint.cancel(flight.exchange, new ReplacedError("the observation ended"));
    }
    this.#drain(peer);
  }

  /** Drops everything (the server is closing; the endpoint fails what is in flight, unheeded). */
  clear(): void {
    for (const peer of this.#peers.values()) {
      if (peer.timer !== undefined) this.#endpoint.clock.cancel(peer.timer);
      peer.timer = peer.inFlight = undefined;
      peer.waiting.clear();
    }
    this.#peers.clear();
  }

  #peerOf(key: string): PeerNotifications {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = { key, waiting: new Map() };
      this.#peers.set(key, peer);
    }
    return peer;
  }

  /** Sends what waits, oldest first, while nothing is in flight and PROBING_RATE allows. */
  #drain(peer: PeerNotifications): void {
    while (peer.inFlight === undefined && peer.timer === undefined && peer.waiting.size > 0) {
      const next: Waiting = peer.waiting.values().next().value!;
      const delay = this.#endpoint.sendDelay(next.observation.peer);
      if (delay > 0) {
        peer.timer = this.#endpoint.clock.setTimer(() => {
          peer.timer = undefined;
          this.#drain(peer);
        }, delay);
        return;
      }
      peer.waiting.delete(next.observation.key);
      this.#send(peer, next);
    }
    const idle = peer.inFlight === undefined && peer.timer === undefined && peer.waiting.size === 0;
    if (idle && this.#peers.get(peer.key) === peer) this.#peers.delete(peer.key);
  }

  #send(peer: PeerNotifications, { observation, notification, final }: Waiting): void {
    const now = this.#endpoint.clock.now();
    const { conEvery } = observation.resource.notify;
    const confirmable = final || this.#endpoint.quiet(observation.peer) ||
      (conEvery > 0 && (observation.notifications + 1) % conEvery === 0) ||
      now - observation.lastConfirmableAt >= CON_AT_LEAST_EVERY_MS;
    this.#counted(observation, confirmable);
    if (!confirmable) {
      // RFC 7641 §3.6: an RST in answer to a notification cancels the observation.
      this.#endpoint.sendNonConfirmable(
        notification,
        observation.peer,
        () => this.#events.reset(observation),
      );
      return;
    }
    this.#track(peer, {
      observation,
      exchange: this.#endpoint.confirmable(notification, observation.peer),
      final,
    });
  }

  #counted(observation: Observation, confirmable: boolean): void {
    observation.notifications++;
    if (confirmable) observation.lastConfirmableAt = this.#endpoint.clock.now();
  }

  /** Holds the peer's line until the CON is acknowledged, reset or given up on. */
  #track(peer: PeerNotifications, flight: InFlight): void {
    peer.inFlight = flight;
    const settled = () => {
      if (peer.inFlight !== flight) return false; // replaced by a newer state, or forgotten
      peer.inFlight = undefined;
      return true;
    };
    flight.exchange.acknowledged.then(
      () => settled() && this.#drain(peer),
      (error) => {
        if (!settled()) return;
        // RFC 7641 §4.5: no ACK after MAX_RETRANSMIT means the client is gone, for all its observations;
        // so does an ICMP error saying its port or host cannot be reached.
        if (error instanceof TimeoutError || error instanceof UnreachableError) {
          this.#events.gone(flight.observation.peer);
        } else if (!flight.final) this.#events.reset(flight.observation);
        this.#drain(peer);
      },
    );
  }
}
