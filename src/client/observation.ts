/**
 * One observation on the client (RFC 7641): the first response, then
 * notifications as an async iterable; leaving the loop deregisters. Stale
 * notifications are dropped, a silent server is asked again with back-off
 * until the caller stops, and at most one notification at a time has its
 * remaining blocks fetched.
 * @module
 */
import type { Clock, TimerHandle } from "../endpoint/clock.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeBlock, decodeUint } from "../message/option_value.ts";
import type { CoapResponse } from "./response.ts";

/** RFC 7641 §3.4: sequence numbers are 24-bit; half the space decides which of two is newer. */
const HALF_SEQUENCE_SPACE = 1 << 23;
/** RFC 7641 §3.4: after 128 s any notification is newer, whatever its number. */
const FRESHNESS_WINDOW_MS = 128_000;
/** RFC 7252 §5.10.5: Max-Age when absent. */
const DEFAULT_MAX_AGE_S = 60;
/** Slack after Max-Age before re-registering, for a notification that is merely late. */
const REREGISTER_SLACK_MS = 2_000;
/**
 * Re-registration attempts come ever further apart, doubling from Max-Age + slack up to this (or Max-Age +
 * slack, when that is longer), so a server that is down for long is asked every few minutes, not flooded.
 */
const REREGISTER_BACKOFF_CAP_MS = 5 * 60_000;
/**
 * Notifications kept for a consumer that reads more slowly than the server sends; beyond them the oldest
 * go, as a newer state supersedes them (RFC 7641 §3.4), so a storm cannot fill memory.
 */
const MAX_QUEUED = 64;

/** What an observation reports besides its notifications. */
export type ObservationEvent =
  | {
    /** No fresh notification for `silentMs`: the registration was sent again (RFC 7641 §3.3.1). */
    readonly type: "reregister";
    /** 1 for the first attempt since the last notification, then 2, 3, … */
    readonly attempt: number;
    readonly silentMs: number;
    /** When the next attempt goes out if this one brings nothing. */
    readonly nextAttemptMs: number;
  }
  | {
    /** A notification larger than a block could not be completed (RFC 7959 §2.6); the next may be. */
    readonly type: "incomplete";
    readonly error: Error;
  };

/** What the client lends an observation. */
export interface ObservationHooks {
  clock: Clock;
  /** Sends the registration again with its token (RFC 7641 §3.3.1), abandoning an earlier attempt. */
  reregister: () => void;
  /** Fetches the remaining blocks of a notification; `signal` aborts when a newer notification arrives. */
  complete: (notification: CoapResponse, signal: AbortSignal) => Promise<CoapResponse>;
  /** Called once when the observation ends, however it ends: the client forgets its token. */
  ended: () => void;
  /** Deregisters with the server (after `ended`). */
  deregister: () => Promise<void>;
}

/**
 * Notifications of one observed resource, in order, stale ones dropped.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, observable, Site } from "../mod.ts";
 * let reading = 22.5;
 * const temperature = observable({ get: () => reading.toFixed(1) });
 * const server = new CoapServer(new Site().add("temperature", temperature), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * const client = new CoapClient();
 * const observation = await client.observe(`coap://127.0.0.1:${server.address.port}/temperature`);
 * observation.onEvent = (event) => console.error(event.type); // "reregister" after Max-Age of silence
 * assert.equal(observation.response.text(), "22.5");
 * reading = 23;
 * temperature.changed();
 * for await (const notification of observation) {
 *   assert.equal(notification.text(), "23.0");
 *   break; // leaving the loop deregisters
 * }
 * client.close();
 * server.close();
 * ```
 */
export class Observation implements AsyncIterable<CoapResponse> {
  /** The response to the registering GET. */
  readonly response: CoapResponse;
  /** Called for each re-registration attempt and each notification that could not be completed. */
  onEvent: (event: ObservationEvent) => void = () => {};
  readonly #hooks: ObservationHooks;
  readonly #queue: CoapResponse[] = [];
  #waiting: ((result: IteratorResult<CoapResponse>) => void) | undefined;
  #active: boolean;
  #sequence = 0;
  #receivedAt = 0;
  #reregisterTimer: TimerHandle | undefined;
  /** Attempts since the last accepted response; while > 0, the next response starts a new registration. */
  #attempts = 0;
  /** The block-wise completion under way, which a newer notification aborts. */
  #completion: AbortController | undefined;

  /** An observation from its first response; `hooks` are how it reaches the client that made it. */
  constructor(response: CoapResponse, hooks: ObservationHooks) {
    this.response = response;
    this.#hooks = hooks;
    const sequence = observeSequence(response);
    this.#active = response.isSuccess && sequence !== undefined;
    if (this.#active) this.#accept(response, sequence!);
  }

  /** Whether notifications may still arrive. */
  get active(): boolean {
    return this.#active;
  }

  /** Takes a response that carries this observation's token. */
  deliver(response: CoapResponse): void {
    if (!this.#active) return;
    const sequence = observeSequence(response);
    if (!response.isSuccess || sequence === undefined) {
      // A final response: an error, or a success without Observe, ends the observation (RFC 7641 §3.2).
      this.#push(response);
      this.#finish();
      return;
    }
    // RFC 7641 §3.4 orders notifications within one registration. The first response after a
    // re-registration may come from a server that restarted and counts from anywhere: it starts afresh.
    if (this.#attempts === 0 && !this.#isFresh(sequence)) return;
    this.#accept(response, sequence);
    this.#completion?.abort(new Error("a newer notification arrived"));
    this.#completion = undefined;
    const block2 = response.option(OptionNumber.Block2);
    if (block2 === undefined || !decodeBlock(block2).more) {
      this.#push(response);
      return;
    }
    // RFC 7959 §2.6: the rest of a large notification is fetched with plain GETs; one newer makes it moot.
    const completion = new AbortController();
    this.#completion = completion;
    this.#hooks.complete(response, completion.signal).then((whole) => {
      if (this.#completion !== completion || !this.#active) return;
      this.#completion = undefined;
      if (whole.isSuccess) this.#push(whole);
      else {this.onEvent({
          type: "incomplete",
          error: new Error(`the rest of a notification: ${whole.codeString}`),
        });}
    }, (error) => {
      if (this.#completion !== completion || !this.#active) return;
      this.#completion = undefined;
      this.onEvent({ type: "incomplete", error });
    });
  }

  /** Stops the observation and deregisters (GET with Observe = 1). */
  async cancel(): Promise<void> {
    if (!this.#active) return;
    this.#finish();
    await this.#hooks.deregister();
  }

  /** The notifications as they come; leaving the loop cancels the observation. */
  [Symbol.asyncIterator](): AsyncIterator<CoapResponse> {
    return {
      next: () => {
        const queued = this.#queue.shift();
        if (queued) return Promise.resolve({ value: queued, done: false });
        if (!this.#active) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiting = resolve);
      },
      return: async () => {
        await this.cancel();
        return { value: undefined, done: true };
      },
    };
  }

  /** RFC 7641 §3.4: V2 is newer than V1 by serial-number arithmetic, or 128 s have passed. */
  #isFresh(sequence: number): boolean {
    const last = this.#sequence;
    return (last < sequence && sequence - last < HALF_SEQUENCE_SPACE) ||
      (last > sequence && last - sequence > HALF_SEQUENCE_SPACE) ||
      this.#hooks.clock.now() > this.#receivedAt + FRESHNESS_WINDOW_MS;
  }

  #accept(response: CoapResponse, sequence: number): void {
    this.#sequence = sequence;
    this.#receivedAt = this.#hooks.clock.now();
    this.#attempts = 0;
    const maxAge = response.option(OptionNumber.MaxAge);
    const seconds = maxAge === undefined ? DEFAULT_MAX_AGE_S : decodeUint(maxAge);
    // RFC 7641 §3.3.1: no fresh notification within Max-Age means the state may be stale: register again.
    this.#scheduleReregistration(seconds * 1000 + REREGISTER_SLACK_MS);
  }

  /** The next attempt after `delay`, and each one after twice the previous delay, up to the cap. */
  #scheduleReregistration(delay: number): void {
    const { clock } = this.#hooks;
    if (this.#reregisterTimer !== undefined) clock.cancel(this.#reregisterTimer);
    this.#reregisterTimer = clock.setTimer(() => {
      this.#reregisterTimer = undefined;
      const next = Math.min(2 * delay, Math.max(delay, REREGISTER_BACKOFF_CAP_MS));
      this.#attempts++;
      this.#hooks.reregister();
      this.#scheduleReregistration(next);
      this.onEvent({
        type: "reregister",
        attempt: this.#attempts,
        silentMs: clock.now() - this.#receivedAt,
        nextAttemptMs: next,
      });
    }, delay);
  }

  #push(response: CoapResponse): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting({ value: response, done: false });
    else if (this.#queue.push(response) > MAX_QUEUED) this.#queue.shift();
  }

  #finish(): void {
    this.#active = false;
    if (this.#reregisterTimer !== undefined) this.#hooks.clock.cancel(this.#reregisterTimer);
    this.#completion?.abort(new Error("the observation ended"));
    this.#completion = undefined;
    this.#hooks.ended();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }
}

/** The Observe option's value, or undefined without one. */
export function observeSequence(response: CoapResponse): number | undefined {
  const value = response.option(OptionNumber.Observe);
  return value === undefined ? undefined : decodeUint(value);
}
