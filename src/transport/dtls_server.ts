/**
 * A DTLS 1.2 server as a Transport (RFC 7252 §9): encrypted datagrams below,
 * CoAP messages above, one session per client address. Admission is stateless
 * until a ClientHello's cookie verifies (RFC 6347 §4.2.1).
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "../endpoint/clock.ts";
import { type ContextTuning, DtlsContext, type DtlsServerCredentials } from "../dtls/context.ts";
import { startsWithClientHello } from "../dtls/records.ts";
import { DtlsSession, handshakeTimer } from "../dtls/session.ts";
import { type Address, addressKey, type Datagram, type Transport } from "./transport.ts";

/** Bounds on what a DTLS server holds; each has a default. */
export interface DtlsServerLimits {
  /** Sessions in total, established or not (2,000: about 45 KiB each in OpenSSL). */
  maxSessions: number;
  /** Sessions per source IP address (64: clients behind one NAT share an address). */
  maxSessionsPerAddress: number;
  /** Sessions still handshaking (200). */
  maxHandshakes: number;
  /** A session nothing crossed for this long, in ms, is closed (300,000). */
  idleTimeout: number;
  /** A handshake not done this long, in ms, after its cookie verified is dropped (10,000). */
  handshakeTimeout: number;
}

/** The defaults of DtlsServerLimits. */
export const DTLS_SERVER_LIMITS: DtlsServerLimits = {
  maxSessions: 2000,
  maxSessionsPerAddress: 64,
  maxHandshakes: 200,
  idleTimeout: 300_000,
  handshakeTimeout: 10_000,
};

/** Something that happened to a session, for traces and logs. */
export interface DtlsSessionEvent {
  /** What happened. */
  readonly kind: "established" | "closed" | "failed" | "refused" | "replaced";
  /** The client's address. */
  readonly address: Address;
  /** Why it failed, closed or was refused. */
  readonly reason?: string;
  /** The cipher suite of an established session. */
  readonly cipher?: string;
  /** Whether an established session was resumed. */
  readonly resumed?: boolean;
  /** The PSK identity of an established session. */
  readonly identity?: string;
}

/** A DTLS server's configuration. */
export interface DtlsServerOptions extends DtlsServerCredentials, ContextTuning {
  /** The largest datagram sent (1,232: IPv6's minimum MTU less IP and UDP headers). */
  mtu?: number;
  /** Bounds on sessions and handshakes (DtlsServerLimits); defaults for what is not given. */
  limits?: Partial<DtlsServerLimits>;
  /** Time source for handshake timers; a VirtualClock in tests. */
  clock?: Clock;
  /** Called when a message cannot be sent (OpenSSL refused to encrypt it); the transport keeps going. */
  onError?: (error: Error) => void;
  /** Called for each session event. */
  onSession?: (event: DtlsSessionEvent) => void;
  /** Called with each datagram sent or received, encrypted (for --pcap and --trace). */
  onDatagram?: (direction: "in" | "out", datagram: Datagram, local: Address) => void;
}

/** What a DTLS server holds now. */
export interface DtlsServerStats {
  /** Established sessions. */
  readonly sessions: number;
  /** Handshakes under way. */
  readonly handshaking: number;
}

/** A Transport that speaks DTLS to its peers. */
export interface DtlsServerTransport extends Transport {
  /** What the server holds now. */
  readonly stats: DtlsServerStats;
  /** The limits in force. */
  readonly limits: Readonly<DtlsServerLimits>;
  /** The PSK identity of the established session with `address` (undefined without one, or with certificates). */
  identityOf(address: Address): string | undefined;
}

interface Association {
  readonly session: DtlsSession;
  readonly address: Address;
  readonly key: string;
  readonly ip: string;
  readonly startedAt: number;
  lastActive: number;
  /** Counted among the handshakes in progress. */
  handshaking: boolean;
  /** The timer is the idle deadline's. */
  idleTimer?: boolean;
  timer?: TimerHandle;
}

/**
 * Wraps a datagram transport in DTLS server sessions.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dtlsServerTransport, udpTransport } from "../mod.ts";
 * const key = new TextEncoder().encode("secret");
 * const transport = dtlsServerTransport(udpTransport({ hostname: "127.0.0.1", port: 0 }), { psk: key });
 * assert.deepEqual(transport.stats, { sessions: 0, handshaking: 0 });
 * transport.close();
 * ```
 */
export function dtlsServerTransport(udp: Transport, options: DtlsServerOptions): DtlsServerTransport {
  const context = DtlsContext.server(options, options);
  const limits: DtlsServerLimits = { ...DTLS_SERVER_LIMITS, ...options.limits };
  const mtu = options.mtu ?? 1232;
  const clock = options.clock ?? realClock;
  const associations = new Map<string, Association>();
  const perAddress = new Map<string, number>();
  let handshaking = 0;
  let listener = DtlsSession.listener(context, mtu);
  let deliver: (batch: Datagram[]) => void = () => {};
  let closed = false;

  const emit = (event: DtlsSessionEvent) => options.onSession?.(event);
  const transmit = (datagrams: Uint8Array[], address: Address) => {
    if (datagrams.length === 0) return;
    const batch = datagrams.map((data) => ({ data, address }));
    for (const datagram of batch) options.onDatagram?.("out", datagram, udp.local);
    udp.send(batch);
  };

  const remove = (association: Association) => {
    if (associations.get(association.key) !== association) return;
    associations.delete(association.key);
    clock.cancel(association.timer);
    if (association.handshaking) handshaking--;
    const count = (perAddress.get(association.ip) ?? 1) - 1;
    if (count === 0) perAddress.delete(association.ip);
    else perAddress.set(association.ip, count);
    association.session.free();
  };

  const close = (association: Association, reason: string) => {
    const failed = association.handshaking;
    association.session.shutdown();
    transmit(association.session.takeDatagrams(), association.address);
    remove(association);
    emit({ kind: failed ? "failed" : "closed", address: association.address, reason });
  };

  /**
   * One timer per session. While it handshakes: OpenSSL's retransmission or the handshake deadline. Once
   * established: the idle deadline, which is not moved on every datagram (a timer per request would cost
   * more than the request) but looked at again when it fires.
   */
  const arm = (association: Association) => {
    const session = association.session;
    if (session.state === "established") {
      if (association.idleTimer) return;
      clock.cancel(association.timer);
      association.idleTimer = true;
      association.timer = clock.setTimer(() => {
        association.idleTimer = false;
        if (clock.now() - association.lastActive >= limits.idleTimeout) close(association, "idle");
        else arm(association);
      }, Math.max(0, association.lastActive + limits.idleTimeout - clock.now()));
      return;
    }
    clock.cancel(association.timer);
    association.timer = handshakeTimer(clock, session, association.startedAt + limits.handshakeTimeout, {
      expired: () => close(association, "handshake timed out"),
      retransmitted: (datagrams) => transmit(datagrams, association.address),
      rearm: () => arm(association),
    });
  };

  const advance = (association: Association, step: () => Uint8Array[]) => {
    const session = association.session;
    let messages: Uint8Array[];
    try {
      messages = step();
    } catch (error) {
      transmit(session.takeDatagrams(), association.address); // the alert, if any
      remove(association);
      emit({ kind: "failed", address: association.address, reason: (error as Error).message });
      return;
    }
    transmit(session.takeDatagrams(), association.address);
    association.lastActive = clock.now();
    if (association.handshaking && session.state === "established") {
      association.handshaking = false;
      handshaking--;
      emit({
        kind: "established",
        address: association.address,
        cipher: session.cipher,
        resumed: session.resumed,
        identity: session.pskIdentity,
      });
    }
    if (session.state === "closed") {
      remove(association);
      emit({ kind: "closed", address: association.address, reason: "closed by the peer" });
    } else {
      arm(association);
    }
    if (messages.length > 0) deliver(messages.map((data) => ({ data, address: association.address })));
  };

  /** A ClientHello from an address with no session, or a new one replacing an established session. */
  const admit = (datagram: Datagram, key: string, existing?: Association) => {
    if (!listener.listen(datagram.data, key)) {
      transmit(listener.takeDatagrams(), datagram.address); // a HelloVerifyRequest, or nothing
      return;
    }
    const session = listener;
    listener = DtlsSession.listener(context, mtu);
    // RFC 6347 §4.2.8: a verified ClientHello from the same address is a client that lost its state.
    if (existing) {
      remove(existing);
      emit({ kind: "replaced", address: existing.address });
    }
    const ip = datagram.address.hostname;
    const refusal = associations.size >= limits.maxSessions
      ? "too many sessions"
      : (perAddress.get(ip) ?? 0) >= limits.maxSessionsPerAddress
      ? "too many sessions from this address"
      : handshaking >= limits.maxHandshakes
      ? "too many handshakes in progress"
      : undefined;
    if (refusal) {
      session.free();
      emit({ kind: "refused", address: datagram.address, reason: refusal });
      return;
    }
    const now = clock.now();
    const association: Association = {
      session,
      address: datagram.address,
      key,
      ip,
      startedAt: now,
      lastActive: now,
      handshaking: true,
    };
    associations.set(key, association);
    perAddress.set(ip, (perAddress.get(ip) ?? 0) + 1);
    handshaking++;
    advance(association, () => session.start());
  };

  const onDatagram = (datagram: Datagram) => {
    options.onDatagram?.("in", datagram, udp.local);
    const key = addressKey(datagram.address);
    const association = associations.get(key);
    const hello = startsWithClientHello(datagram.data);
    if (association && !(hello && association.session.state === "established")) {
      advance(association, () => association.session.receive(datagram.data, key));
    } else if (hello) {
      admit(datagram, key, association);
    } // Anything else from an unknown address is dropped: no state, no answer.
  };

  return {
    local: udp.local,
    limits,
    get stats() {
      return { sessions: associations.size, handshaking };
    },
    identityOf(address) {
      const association = associations.get(addressKey(address));
      return association?.session.state === "established"
        ? association.session.pskIdentity || undefined
        : undefined;
    },
    // ICMP errors concern the UDP peer, which is the DTLS peer: they go up as they come.
    listen(receive, unreachable) {
      deliver = receive;
      udp.listen((batch) => {
        for (const datagram of batch) if (!closed) onDatagram(datagram);
      }, unreachable);
    },
    send(batch) {
      for (const { data, address } of batch) {
        const association = associations.get(addressKey(address));
        // A server cannot start a session: a message to an address without one is dropped.
        if (association?.session.state !== "established") continue;
        try {
          association.session.write(data);
        } catch (error) {
          options.onError?.(error as Error); // Transports never throw: this message is dropped.
          continue;
        }
        association.lastActive = clock.now();
        transmit(association.session.takeDatagrams(), address);
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const association of [...associations.values()]) close(association, "server closed");
      listener.free();
      context.close();
      udp.close();
    },
  };
}
