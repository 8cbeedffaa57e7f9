/**
 * A DTLS 1.2 client as a Transport: one session per server address, opened on
 * the first message to it, resumed from a saved session when one is known.
 * @module
 */
import { type Clock, realClock, type TimerHandle } from "../endpoint/clock.ts";
import { type ContextTuning, type DtlsClientCredentials, DtlsContext } from "../dtls/context.ts";
import { records } from "../dtls/records.ts";
import { sha256 } from "../dtls/libssl.ts";
import { bytesToHex } from "../tools/hex.ts";
import { DtlsError, DtlsSession, handshakeTimer } from "../dtls/session.ts";
import { type Address, addressKey, type Datagram, type Transport } from "./transport.ts";

/** Where resumable sessions are kept between connections (a Map, or a file: see session_file.ts). */
export interface SessionStore {
  /** The saved session for `key`, if any. */
  get(key: string): Uint8Array | undefined;
  /** Keeps `session` under `key`. */
  set(key: string, session: Uint8Array): void;
}

/** A finished handshake, as `connect()` reports it. */
export interface Handshake {
  /** The cipher suite agreed on. */
  readonly cipher: string;
  /** Whether a saved session was resumed (an abbreviated handshake). */
  readonly resumed: boolean;
  /** Flights the client sent before the session was up: each waits one round trip. */
  readonly roundTrips: number;
  /** Milliseconds from the first ClientHello to the server's Finished. */
  readonly milliseconds: number;
  /** The largest CoAP message one record carries. */
  readonly dataMtu: number;
}

/** A DTLS client's configuration. */
export interface DtlsClientOptions extends DtlsClientCredentials, ContextTuning {
  /** The largest datagram sent (1,232). */
  mtu?: number;
  /** A handshake not done by then, in ms, fails (10,000). */
  handshakeTimeout?: number;
  /** Sessions saved for resumption (an in-memory Map by default). */
  sessions?: SessionStore;
  /** The name certificates are checked against, by server address key ("host:port"). */
  serverNames?: Map<string, string>;
  /** Time source for handshake timers; a VirtualClock in tests. */
  clock?: Clock;
  /** Called when a message cannot be sent (the client is closed, OpenSSL refused it); the transport keeps going. */
  onError?: (error: Error) => void;
  /** Called when a session is up, with how its handshake went. */
  onHandshake?: (address: Address, handshake: Handshake) => void;
  /** Called with each datagram sent or received, encrypted (for --pcap and --trace). */
  onDatagram?: (direction: "in" | "out", datagram: Datagram, local: Address) => void;
}

/** A Transport that opens DTLS sessions to the servers it sends to. */
export interface DtlsClientTransport extends Transport {
  /** Opens (or reuses) the session to a server; rejects with DtlsError saying what went wrong. */
  connect(address: Address): Promise<Handshake>;
}

interface Connection {
  readonly session: DtlsSession;
  readonly address: Address;
  readonly key: string;
  readonly startedAt: number;
  readonly handshake: Promise<Handshake>;
  resolve(handshake: Handshake): void;
  reject(error: Error): void;
  /** Plaintext waiting for the handshake. */
  readonly queue: Uint8Array[];
  flights: number;
  heardFromServer: boolean;
  sawServerHello: boolean;
  timer?: TimerHandle;
}

/** Messages kept per server while its handshake runs; more are dropped (CoAP retransmits them). */
const MAX_QUEUED = 64;

/**
 * Wraps a datagram transport in DTLS client sessions.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DtlsError, dtlsClientTransport, udpTransport } from "../mod.ts";
 * const psk = { identity: "dev1", key: new TextEncoder().encode("secret") };
 * const silent = udpTransport({ hostname: "127.0.0.1", port: 0 }); // never answers
 * const client = dtlsClientTransport(udpTransport({ hostname: "127.0.0.1" }), { psk, handshakeTimeout: 300 });
 * client.listen(() => {});
 * await assert.rejects(client.connect(silent.local), DtlsError);
 * client.close();
 * silent.close();
 * ```
 */
export function dtlsClientTransport(udp: Transport, options: DtlsClientOptions): DtlsClientTransport {
  const context = DtlsContext.client(options, options);
  const mtu = options.mtu ?? 1232;
  const clock = options.clock ?? realClock;
  const handshakeTimeout = options.handshakeTimeout ?? 10_000;
  const store: SessionStore = options.sessions ?? new Map<string, Uint8Array>();
  // A saved session belongs to the credentials it was made with: a changed key must not resume it.
  const credentials = options.psk
    ? `${options.psk.identity}#${bytesToHex(sha256(context.lib, options.psk.key)).slice(0, 16)}`
    : "certificate";
  const connections = new Map<string, Connection>();
  let deliver: (batch: Datagram[]) => void = () => {};
  let closed = false;

  const transmit = (datagrams: Uint8Array[], address: Address) => {
    if (datagrams.length === 0) return;
    const batch = datagrams.map((data) => ({ data, address }));
    for (const datagram of batch) options.onDatagram?.("out", datagram, udp.local);
    udp.send(batch);
  };
  const storeKey = (key: string) => `${credentials}@${key}`;

  const drop = (connection: Connection, error?: Error) => {
    if (connections.get(connection.key) !== connection) return;
    connections.delete(connection.key);
    clock.cancel(connection.timer);
    connection.session.free();
    if (error) connection.reject(error);
  };

  const failure = (connection: Connection, reason?: string): DtlsError => {
    const host = connection.key;
    if (!connection.heardFromServer) return new DtlsError(`no DTLS response from ${host}`);
    const why = reason ? ` (${reason})` : "";
    if (connection.sawServerHello) {
      const hint = options.psk ? ": wrong PSK?" : ": certificate or key not accepted?";
      return new DtlsError(`handshake with ${host} failed after ServerHello${why}${hint}`);
    }
    return new DtlsError(`handshake with ${host} failed${why}`);
  };

  const write = (connection: Connection, plaintext: Uint8Array) => {
    try {
      connection.session.write(plaintext);
    } catch (error) {
      options.onError?.(error as Error); // Transports never throw: this message is dropped.
      return;
    }
    transmit(connection.session.takeDatagrams(), connection.address);
  };

  const arm = (connection: Connection) => {
    clock.cancel(connection.timer);
    const session = connection.session;
    if (session.state !== "handshaking") return;
    connection.timer = handshakeTimer(clock, session, connection.startedAt + handshakeTimeout, {
      expired: () => drop(connection, failure(connection)),
      retransmitted: (datagrams) => transmit(datagrams, connection.address),
      rearm: () => arm(connection),
    });
  };

  const advance = (connection: Connection, step: () => Uint8Array[]) => {
    const session = connection.session;
    const wasHandshaking = isHandshaking(session);
    let messages: Uint8Array[];
    try {
      messages = step();
    } catch (error) {
      transmit(session.takeDatagrams(), connection.address);
      return drop(connection, failure(connection, (error as Error).message));
    }
    const out = session.takeDatagrams();
    if (wasHandshaking && session.state === "handshaking" && out.length > 0) connection.flights++;
    transmit(out, connection.address);
    if (wasHandshaking && session.state === "established") {
      const saved = session.saveSession();
      if (saved) store.set(storeKey(connection.key), saved);
      const handshake = {
        cipher: session.cipher,
        resumed: session.resumed,
        roundTrips: connection.flights,
        milliseconds: clock.now() - connection.startedAt,
        dataMtu: session.dataMtu,
      };
      options.onHandshake?.(connection.address, handshake);
      connection.resolve(handshake);
      for (const plaintext of connection.queue.splice(0)) write(connection, plaintext);
    }
    if (session.state === "closed") {
      drop(connection, failure(connection, "closed by the server"));
    } else {
      arm(connection);
    }
    if (messages.length > 0) deliver(messages.map((data) => ({ data, address: connection.address })));
  };

  const open = (address: Address): Connection => {
    const key = addressKey(address);
    const existing = connections.get(key);
    if (existing) return existing;
    if (closed) throw new DtlsError("the DTLS client is closed");
    let resolve!: (handshake: Handshake) => void;
    let reject!: (error: Error) => void;
    const handshake = new Promise<Handshake>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    handshake.catch(() => {}); // A send() that nobody awaits must not leave an unhandled rejection.
    const session = DtlsSession.client(
      context,
      mtu,
      options.ca ? options.serverNames?.get(key) ?? address.hostname : undefined,
      store.get(storeKey(key)),
    );
    const connection: Connection = {
      session,
      address,
      key,
      startedAt: clock.now(),
      handshake,
      resolve,
      reject,
      queue: [],
      flights: 0,
      heardFromServer: false,
      sawServerHello: false,
    };
    connections.set(key, connection);
    advance(connection, () => session.start());
    return connection;
  };

  return {
    local: udp.local,
    connect: (address) => open(address).handshake,
    // ICMP errors concern the UDP peer, which is the DTLS peer: a handshake to it fails now, not at its
    // timeout, and the errors go up as they come.
    listen(receive, unreachable) {
      deliver = receive;
      udp.listen((batch) => {
        for (const datagram of batch) {
          if (closed) return;
          options.onDatagram?.("in", datagram, udp.local);
          const connection = connections.get(addressKey(datagram.address));
          if (!connection) continue; // Not a server we talk to.
          connection.heardFromServer = true;
          // Only a handshake's failure message needs it: established sessions skip the record walk.
          if (
            !connection.sawServerHello && isHandshaking(connection.session) &&
            records(datagram.data).some((record) => record.name === "ServerHello")
          ) {
            connection.sawServerHello = true;
          }
          advance(connection, () => connection.session.receive(datagram.data, connection.key));
        }
      }, (address, reason) => {
        const connection = connections.get(addressKey(address));
        if (connection && isHandshaking(connection.session)) {
          drop(connection, new DtlsError(`${connection.key}: ${reason}`));
        }
        unreachable?.(address, reason);
      });
    },
    send(batch) {
      for (const { data, address } of batch) {
        let connection: Connection;
        try {
          connection = open(address);
        } catch (error) {
          options.onError?.(error as Error); // Transports never throw (a closed client, no SSL object).
          continue;
        }
        if (connection.session.state === "established") {
          write(connection, data);
        } else if (connection.queue.length < MAX_QUEUED) {
          connection.queue.push(data);
        }
      }
    },
    close() {
      if (closed) return;
      closed = true;
      for (const connection of [...connections.values()]) {
        // close_notify first: OpenSSL will not resume a session freed without it.
        connection.session.shutdown();
        transmit(connection.session.takeDatagrams(), connection.address);
        drop(connection, new DtlsError("the DTLS client closed"));
      }
      context.close();
      udp.close();
    },
  };
}

/** A call, not a property test: TypeScript would otherwise narrow the state across SSL calls. */
function isHandshaking(session: DtlsSession): boolean {
  return session.state === "handshaking";
}
