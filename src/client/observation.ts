/**
 * One observation on the client (RFC 7641): the first response, then
 * notifications as an async iterable; leaving the loop deregisters.
 * @module
 */
import type { Clock, TimerHandle } from "../endpoint/clock.ts";
import { OptionNumber } from "../message/option.ts";
import { decodeUint } from "../message/option_value.ts";
import type { CoapResponse } from "./response.ts";

/** RFC 7641 §3.4: sequence numbers are 24-bit; half the space decides which of two is newer. */
const HALF_SEQUENCE_SPACE = 1 << 23;
/** RFC 7641 §3.4: after 128 s any notification is newer, whatever its number. */
const FRESHNESS_WINDOW_MS = 128_000;
/** RFC 7252 §5.10.5: Max-Age when absent. */
const DEFAULT_MAX_AGE_S = 60;
/** Slack after Max-Age before re-registering, for a notification that is merely late. */
const REREGISTER_SLACK_MS = 2_000;

/** What the client lends an observation. */
export interface ObservationHooks {
  clock: Clock;
  /** Sends the registration again (RFC 7641 §3.3.1). */
  reregister: () => void;
  /** Stops listening and deregisters with the server. */
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
  readonly #hooks: ObservationHooks;
  readonly #queue: CoapResponse[] = [];
  #waiting: ((result: IteratorResult<CoapResponse>) => void) | undefined;
  #active: boolean;
  #sequence = 0;
  #receivedAt = 0;
  #reregisterTimer: TimerHandle | undefined;

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
    if (!this.#isFresh(sequence)) return;
    this.#accept(response, sequence);
    this.#push(response);
  }

  /** Stops the observation and deregisters (GET with Observe = 1). */
  async cancel(): Promise<void> {
    if (!this.#active) return;
    this.#finish();
    await this.#hooks.deregister();
  }

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
    const maxAge = response.option(OptionNumber.MaxAge);
    const seconds = maxAge === undefined ? DEFAULT_MAX_AGE_S : decodeUint(maxAge);
    const { clock } = this.#hooks;
    if (this.#reregisterTimer !== undefined) clock.cancel(this.#reregisterTimer);
    // RFC 7641 §3.3.1: no fresh notification within Max-Age means the state may be stale: register again.
    this.#reregisterTimer = clock.setTimer(
      () => this.#hooks.reregister(),
      seconds * 1000 + REREGISTER_SLACK_MS,
    );
  }

  #push(response: CoapResponse): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) waiting({ value: response, done: false });
    else this.#queue.push(response);
  }

  #finish(): void {
    this.#active = false;
    if (this.#reregisterTimer !== undefined) this.#hooks.clock.cancel(this.#reregisterTimer);
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
