/**
 * The silent-observer attack on a virtual clock: `registrations` CON Observe registrations for the demo's
 * /temperature (a new reading every 2 s, every 5th notification CON) from one address and port that never
 * sends anything again, against the real server, endpoint and core. Reports what came back and when.
 * Used by observe_test.ts and, for memory, by _silent_observers_probe.ts.
 */
import { CoapServer, encode, Endpoint, OptionNumber, Type, VirtualClock } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { SERVER_LIMITS } from "../src/server/server.ts";
import { injectedTransport } from "./_injected_transport.ts";

/** What the server sent the silent observer. */
export interface SilentObserverRun {
  bytesIn: number;
  bytesOut: number;
  datagramsOut: number;
  /** When the first CON notification went out, and the last datagram of any kind. */
  firstConfirmableAt: number;
  lastSentAt: number;
  /** The most notifications in flight to the peer, and waiting, seen at any second. */
  maxInFlight: number;
  maxWaiting: number;
  /** At the end. */
  observers: number;
  pinnedPeers: number;
  outstanding: number;
}

const OBSERVER = { hostname: "10.9.0.1", port: 40000 };
const DRIFT_EVERY_MS = 2000;

/** Runs the attack for `durationMs` of virtual time; `afterRegistering` runs once the registrations are in. */
export async function silentObservers(
  registrations: number,
  durationMs: number,
  afterRegistering: () => Promise<void> = () => Promise.resolve(),
): Promise<SilentObserverRun> {
  const clock = new VirtualClock();
  const wire = injectedTransport(undefined, clock);
  const demo = demoSite({ now: () => clock.now() });
  const endpoint = new Endpoint(wire.transport, { clock, seed: 11, limits: SERVER_LIMITS });
  const server = new CoapServer(demo.site, { endpoint });
  let bytesIn = 0;
  for (let i = 0; i < registrations; i++) {
    const register = encode({
      type: Type.CON,
      code: 1,
      messageId: 0x100 + i,
      token: Uint8Array.of(0xab, 0, i >> 8, i & 0xff),
      options: [
        { number: OptionNumber.Observe, value: new Uint8Array(0) },
        { number: OptionNumber.UriPath, value: new TextEncoder().encode("temperature") },
      ],
      payload: new Uint8Array(0),
    });
    bytesIn += register.length;
    wire.inject(OBSERVER, register);
  }
  await afterRegistering();
  const drift = () => {
    demo.temperature.changed();
    clock.setTimer(drift, DRIFT_EVERY_MS);
  };
  clock.setTimer(drift, DRIFT_EVERY_MS);
  let maxInFlight = 0;
  let maxWaiting = 0;
  for (let t = 0; t < durationMs; t += 1000) {
    await clock.advance(1000);
    maxInFlight = Math.max(maxInFlight, server.stats.notificationsInFlight);
    maxWaiting = Math.max(maxWaiting, server.stats.notificationsWaiting);
  }
  const sent = wire.sent.filter((datagram) => datagram.to.port === OBSERVER.port);
  const firstConfirmable = sent.find(({ message }) => message.type === Type.CON);
  const run: SilentObserverRun = {
    bytesIn,
    bytesOut: sent.reduce((sum, { data }) => sum + data.length, 0),
    datagramsOut: sent.length,
    firstConfirmableAt: firstConfirmable?.at ?? NaN,
    lastSentAt: sent.at(-1)?.at ?? NaN,
    maxInFlight,
    maxWaiting,
    observers: server.observerCount,
    pinnedPeers: endpoint.stats.pinnedPeers,
    outstanding: endpoint.stats.outstanding,
  };
  server.close();
  return run;
}
