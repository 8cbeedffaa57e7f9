/**
 * The lab's Observe pattern timeline, run by the real protocol code: a
 * CoapServer with an observable resource and a CoapClient observing it, over
 * a seeded lossy MemoryLink, on a VirtualClock driving the same WASM scheduler
 * as production. Virtual time, so a run of minutes finishes at once, and the
 * same seed gives the same timeline.
 * @module
 */
import { CoapClient } from "../client/client.ts";
import { VirtualClock } from "../endpoint/clock.ts";
import { Endpoint } from "../endpoint/endpoint.ts";
import { maxTransmitWait, resolveParameters } from "../endpoint/params.ts";
import type { TraceEvent } from "../endpoint/trace.ts";
import { isResponse } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import { getOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import { Type } from "../message/type.ts";
import { observable } from "../server/observable.ts";
import { CoapServer } from "../server/server.ts";
import { Site } from "../server/site.ts";
import { MemoryLink } from "../transport/memory_link.ts";
import type { Address } from "../transport/transport.ts";
import type { DiagramEvent } from "./sequence_diagram.ts";

/** The client's address on the simulated link. */
export const SIMULATED_CLIENT: Address = { hostname: "10.0.0.1", port: 40000 };
/** The server's address on the simulated link. */
export const SIMULATED_SERVER: Address = { hostname: "10.0.0.2", port: 5683 };

/** What to simulate. */
export interface ObserveSimulation {
  /** Time between state changes (ms). */
  interval: number;
  /** State changes, each notified to the observer. */
  count: number;
  /** Every Nth notification Confirmable; 0 = all Non-confirmable, 1 = all Confirmable. */
  conEvery: number;
  /** Probability the link loses a datagram, 0-1, either way. */
  loss: number;
  /** Seed of the link's losses, the endpoints' Message IDs and timeouts, and the client's tokens. */
  seed: number;
}

/** What happened, counted. */
export interface SimulationSummary {
  /** Notifications the server sent (first transmissions; the registration's response not counted). */
  sent: number;
  /** Notifications the client's application received. */
  delivered: number;
  /** Sent but never delivered: lost with all retransmissions, or superseded by a newer one before delivery. */
  lost: number;
  confirmable: number;
  nonConfirmable: number;
  /** Retransmitted datagrams, either way. */
  retransmissions: number;
  /** Datagrams that crossed the link, and those it dropped. */
  datagrams: number;
  dropped: number;
  /** Whether the registration itself got through. */
  registered: boolean;
  /** Virtual time from the first datagram to the last (ms). */
  duration: number;
}

/** A simulated datagram, seen from the client's side, with who sent it. */
export type SimulatedEvent = DiagramEvent & { sender: "client" | "server" };

/** The timeline and its summary. */
export interface SimulationResult {
  /** Every datagram put on the link, in order, from the client's point of view (server → client is "in"). */
  events: SimulatedEvent[];
  summary: SimulationSummary;
}

/**
 * Runs an Observe timeline to its end in virtual time.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { simulateObserve } from "./simulation.ts";
 * const { events, summary } = await simulateObserve({
 *   interval: 2000,
 *   count: 10,
 *   conEvery: 5,
 *   loss: 0.2,
 *   seed: 2,
 * });
 * assert.ok(summary.registered); // the same seed gives the same timeline (seed 1 loses the registration)
 * assert.equal(summary.sent, 10);
 * assert.equal(summary.delivered + summary.lost, summary.sent);
 * assert.equal(events.length, summary.datagrams);
 * ```
 */
export async function simulateObserve(options: ObserveSimulation): Promise<SimulationResult> {
  const clock = new VirtualClock();
  const link = new MemoryLink(clock, { loss: options.loss, seed: options.seed });
  const events: SimulatedEvent[] = [];
  // The link decides a datagram's fate as it is sent, before the endpoint traces it: the last log entry is its fate.
  const record = (sender: "client" | "server") => (event: TraceEvent) => {
    if (event.direction !== "out") return;
    const lost = link.log[link.log.length - 1]?.fate === "dropped";
    events.push({
      ...event,
      direction: sender === "client" ? "out" : "in",
      peer: SIMULATED_SERVER,
      local: SIMULATED_CLIENT,
      lost,
      sender,
    });
  };
  const parameters = resolveParameters();
  const drain = maxTransmitWait(parameters);
  const serverEndpoint = new Endpoint(link.attach(SIMULATED_SERVER), {
    clock,
    seed: options.seed + 1,
    onTrace: record("server"),
  });
  const clientEndpoint = new Endpoint(link.attach(SIMULATED_CLIENT), {
    clock,
    seed: options.seed + 2,
    onTrace: record("client"),
  });
  let reading = 0;
  // Max-Age covers the whole run, so the client never re-registers: the timeline shows notifications only.
  const maxAge = Math.ceil((options.count * options.interval + 2 * drain) / 1000);
  const sensor = observable({
    get: () => ({ payload: `reading ${reading}`, contentFormat: ContentFormat.TextPlain, maxAge }),
  }, { conEvery: options.conEvery });
  const server = new CoapServer(new Site().add("sensor", sensor), { endpoint: serverEndpoint });
  const client = new CoapClient({ endpoint: clientEndpoint, random: seededBytes(options.seed + 3) });
  let delivered = 0;
  let registered = false;
  client.observe(`coap://${SIMULATED_SERVER.hostname}:${SIMULATED_SERVER.port}/sensor`).then(
    (observation) => {
      registered = true;
      for (let i = 1; i <= options.count; i++) {
        clock.setTimer(() => {
          reading = i;
          sensor.changed();
        }, i * options.interval);
      }
      (async () => {
        for await (const _ of observation) delivered++;
      })();
    },
    () => {}, // The registration never got through: the summary says so.
  );
  // Registration (with its retransmissions), the changes, then time for the last CON's retransmissions.
  await clock.advance(drain + options.count * options.interval + drain);
  // Closed without deregistering: a deregistration would add an exchange that is not part of the pattern.
  client.close();
  server.close();
  const sent = events.filter((event) => event.sender === "server" && isNotification(event));
  const confirmable = sent.filter((event) => event.message!.type === Type.CON).length;
  return {
    events,
    summary: {
      sent: sent.length,
      delivered,
      lost: sent.length - delivered,
      confirmable,
      nonConfirmable: sent.length - confirmable,
      retransmissions: events.filter((event) => (event.retransmission ?? 0) > 0).length,
      datagrams: events.length,
      dropped: events.filter((event) => event.lost).length,
      registered,
      duration: events.length === 0 ? 0 : events[events.length - 1].at - events[0].at,
    },
  };
}

/** A notification's first transmission: a CON or NON response with Observe, not sent again. */
function isNotification(event: SimulatedEvent): boolean {
  const m = event.message;
  return m !== undefined && (m.type === Type.CON || m.type === Type.NON) && isResponse(m.code) &&
    getOption(m, OptionNumber.Observe) !== undefined && !event.retransmission && !event.resent;
}

/** Deterministic bytes from a seed (xorshift32), in place of crypto.getRandomValues. */
function seededBytes(seed: number): (bytes: Uint8Array) => Uint8Array {
  let state = seed >>> 0 || 1;
  return (bytes) => {
    for (let i = 0; i < bytes.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      bytes[i] = state & 0xff;
    }
    return bytes;
  };
}
