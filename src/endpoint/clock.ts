/**
 * Time for the protocol logic: the real clock in production, a virtual one in
 * tests and simulations, so retransmission schedules can be checked exactly.
 * @module
 */

/** Whatever a clock's setTimer returns, to be handed back to cancel(). */
export type TimerHandle = unknown;

/** A source of milliseconds and one-shot timers. */
export interface Clock {
  /** Milliseconds since an arbitrary start. */
  now(): number;
  /** Calls `callback` after `delay` ms; returns a handle for cancel(). */
  setTimer(callback: () => void, delay: number): TimerHandle;
  /** Cancels a timer that has not fired. */
  cancel(handle: TimerHandle): void;
}

/** Wall-clock time from performance.now() and setTimeout. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (callback, delay) => setTimeout(callback, delay),
  cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A clock that moves only when told to. Timers run in deadline order (then in
 * the order they were set) as advance() passes them.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtualClock } from "../mod.ts";
 * const clock = new VirtualClock();
 * const fired: number[] = [];
 * clock.setTimer(() => fired.push(clock.now()), 100);
 * await clock.advance(99);
 * assert.deepEqual(fired, []);
 * await clock.advance(1);
 * assert.deepEqual(fired, [100]);
 * ```
 */
export class VirtualClock implements Clock {
  #now = 0;
  #nextHandle = 1;
  #timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delay: number): number {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { at: this.#now + Math.max(0, delay), callback });
    return handle;
  }

  /** Cancels a timer from setTimer(); a fired or cancelled one is ignored. */
  cancel(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order; between timers it
   * lets pending promise callbacks run, so async code reacts as it would in real time.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    while (true) {
      await settle();
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
    }
    this.#now = end;
    await settle();
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.size;
  }
}

/** Lets queued promise callbacks (and their follow-ups) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
