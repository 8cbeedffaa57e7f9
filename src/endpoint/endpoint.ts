/**
 * The message layer (RFC 7252 §4): Message IDs, CON/NON/ACK/RST, duplicate
 * detection and retransmission, driven by the endpoint's own WASM core on one
 * timer. It knows nothing of tokens or resources: requests and responses go up
 * to the request layer through `onRequest` and `onResponse`.
 * @module
 */
import { SCHEDULE_DUPLICATE, SCHEDULE_FULL } from "../../core-as/layout.ts";
import { ExchangeCore } from "../core/exchange_core.ts";
import { isRequest } from "../message/code.ts";
import { CoapFormatError, decode, encode } from "../message/codec.ts";
import type { Message } from "../message/message.ts";
import { Type } from "../message/type.ts";
import { type Address, addressKey, type Datagram, type Transport } from "../transport/transport.ts";
import { type Clock, realClock, type TimerHandle } from "./clock.ts";
import { exchangeLifetime, nonLifetime, resolveParameters, type TransmissionParameters } from "./params.ts";
import { ReplacedError, ResetError, TimeoutError } from "./errors.ts";
import type { TraceEvent } from "./trace.ts";

/** A remote endpoint as this endpoint knows it. */
export interface Peer {
  /** Small integer the core's tables key on. */
  readonly id: number;
  readonly address: Address;
  /** "host:port". */
  readonly key: string;
}

/** A message as the request layer hands it down: the endpoint sets type and Message ID. */
export type Outgoing = Omit<Message, "type" | "messageId">;

/** A CON or NON that arrived and is not a duplicate, or a piggybacked response. */
export interface Inbound {
  readonly message: Message;
  readonly peer: Peer;
  /** Duplicate-detection slot of a CON/NON; -1 for a piggybacked response in an ACK. */
  readonly slot: number;
}

/** Options for an endpoint. */
export interface EndpointOptions {
  /** RFC 7252 §4.8 transmission parameters; defaults are the RFC's. */
  parameters?: Partial<TransmissionParameters>;
  /** Time source; a VirtualClock in tests. */
  clock?: Clock;
  /** Seed for the initial-timeout randomization; random by default. */
  seed?: number;
  /** CONs this endpoint may have outstanding at once, across peers (default 8192). */
  retransmitSlots?: number;
  /** Received Message IDs remembered for duplicate detection (default 32768). */
  dedupSlots?: number;
  /** Sees every datagram in and out, annotated. */
  onTrace?: (event: TraceEvent) => void;
  /** Errors from handling one datagram; the endpoint carries on. Default console.error. */
  onError?: (error: unknown) => void;
}

interface Outstanding {
  readonly bytes: Uint8Array;
  readonly message: Message;
  readonly peer: Peer;
  readonly resolve: (ack: Message) => void;
  readonly reject: (error: Error) => void;
}

interface Queued {
  readonly message: Outgoing;
  readonly peer: Peer;
  readonly resolve: (ack: Message) => void;
  readonly reject: (error: Error) => void;
  readonly onTransmit?: (messageId: number) => void;
}

const EMPTY = new Uint8Array(0);

/**
 * One CoAP endpoint on one transport.
 * @example
 * const endpoint = new Endpoint(udpTransport({ port: 0 }));
 * const ack = await endpoint.sendConfirmable(request, endpoint.peer({ hostname: "127.0.0.1", port: 5683 }));
 */
export class Endpoint {
  /** The parameters in force. */
  readonly parameters: TransmissionParameters;
  /** Called with each new request (CON or NON); must answer CONs with respond, acknowledge or reset. */
  onRequest: (inbound: Inbound) => void = (inbound) => this.reject(inbound);
  /** Called with each new response: piggybacked in an ACK, or a separate CON/NON. */
  onResponse: (inbound: Inbound) => void = (inbound) => this.reject(inbound);
  /** Called when a peer resets a NON this endpoint sent (RFC 7641 uses it to cancel). */
  onReset: (peer: Peer, messageId: number) => void = () => {};

  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #core: ExchangeCore;
  readonly #onTrace?: (event: TraceEvent) => void;
  readonly #exchangeLifetime: number;
  readonly #nonLifetime: number;
  readonly #peers = new Map<string, Peer>();
  readonly #outstanding: (Outstanding | undefined)[] = [];
  /** What was answered to each remembered CON, by dedup slot, for its duplicates. */
  readonly #replies: (Datagram | undefined)[] = [];
  /** Outstanding CON count per peer id, for NSTART. */
  readonly #inFlight = new Map<number, number>();
  readonly #queues = new Map<number, Queued[]>();
  #nextMessageId: number;
  #timer: TimerHandle | undefined;
  #timerDue = Infinity;
  #closed = false;

  constructor(transport: Transport, options: EndpointOptions = {}) {
    this.parameters = resolveParameters(options.parameters);
    this.#transport = transport;
    this.#clock = options.clock ?? realClock;
    this.#onTrace = options.onTrace;
    this.#exchangeLifetime = exchangeLifetime(this.parameters);
    this.#nonLifetime = nonLifetime(this.parameters);
    const random = crypto.getRandomValues(new Uint32Array(2));
    this.#core = new ExchangeCore({
      retransmitSlots: options.retransmitSlots ?? 8192,
      dedupSlots: options.dedupSlots ?? 32768,
      seed: options.seed ?? random[0],
    });
    // RFC 7252 §4.4: start from a random Message ID, so restarts do not reuse recent ones.
    this.#nextMessageId = (options.seed ?? random[1]) & 0xffff;
    const onError = options.onError ?? ((error) => console.error("CoAP endpoint:", error));
    transport.listen((batch) => {
      for (const datagram of batch) {
        // One datagram's failure must not end the receive loop, or the endpoint would go deaf.
        try {
          this.#receive(datagram);
        } catch (error) {
          onError(error);
        }
      }
    });
  }

  /** The address this endpoint receives on. */
  get local(): Address {
    return this.#transport.local;
  }

  /** The clock this endpoint runs on. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The peer at `address`, created on first use. */
  peer(address: Address): Peer {
    const key = addressKey(address);
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = { id: this.#peers.size + 1, address: { hostname: address.hostname, port: address.port }, key };
      this.#peers.set(key, peer);
    }
    return peer;
  }

  /**
   * Sends a Confirmable message and retransmits it until an ACK or RST arrives.
   * Resolves with the ACK (empty, or carrying a piggybacked response); rejects
   * with ResetError on RST and TimeoutError after MAX_RETRANSMIT retransmissions.
   * With NSTART CONs already outstanding to the peer, it waits its turn.
   */
  sendConfirmable(message: Outgoing, peer: Peer, onTransmit?: (messageId: number) => void): Promise<Message> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error("endpoint is closed"));
      if ((this.#inFlight.get(peer.id) ?? 0) >= this.parameters.nstart) {
        const queue = this.#queues.get(peer.id) ?? [];
        queue.push({ message, peer, resolve, reject, onTransmit });
        this.#queues.set(peer.id, queue);
        return;
      }
      this.#startConfirmable({ message, peer, resolve, reject, onTransmit });
    });
  }

  /**
   * Sends a CON in place of one still outstanding to the same peer (RFC 7641
   * §4.5.2): the new message gets a fresh Message ID but keeps the old one's
   * retransmission count and timeout; the old one's promise rejects with
   * ReplacedError. If the old one is no longer outstanding, this is sendConfirmable.
   */
  replaceConfirmable(
    oldMessageId: number,
    message: Outgoing,
    peer: Peer,
    onTransmit?: (messageId: number) => void,
  ): Promise<Message> {
    let messageId = this.#allocateMessageId();
    let slot = this.#core.rekey(peer.id, oldMessageId, messageId);
    for (let tries = 0; slot < 0 && this.#isOutstanding(peer, oldMessageId) && tries < 16; tries++) {
      messageId = this.#allocateMessageId(); // the fresh ID was still in use to this peer
      slot = this.#core.rekey(peer.id, oldMessageId, messageId);
    }
    const old = slot >= 0 ? this.#outstanding[slot] : undefined;
    if (old === undefined) return this.sendConfirmable(message, peer, onTransmit);
    return new Promise((resolve, reject) => {
      const replacement: Message = { ...message, type: Type.CON, messageId };
      const bytes = encode(replacement);
      this.#outstanding[slot] = { bytes, message: replacement, peer, resolve, reject };
      old.reject(new ReplacedError(`replaced by Message ID ${messageId}`));
      onTransmit?.(messageId);
      this.#transmit(bytes, replacement, peer.address);
    });
  }

  /** Sends a Non-confirmable message; returns its Message ID. */
  sendNonConfirmable(message: Outgoing, peer: Peer): number {
    const messageId = this.#allocateMessageId();
    this.#send({ ...message, type: Type.NON, messageId }, peer);
    return messageId;
  }

  /**
   * Answers an inbound request: piggybacked in the ACK of a CON, or as a NON
   * (with a fresh Message ID) to a NON.
   */
  respond(inbound: Inbound, response: Outgoing): void {
    if (inbound.message.type === Type.CON) {
      this.#reply(inbound, { ...response, type: Type.ACK, messageId: inbound.message.messageId });
    } else {
      this.sendNonConfirmable(response, inbound.peer);
    }
  }

  /** Sends an empty ACK for an inbound CON (RFC 7252 §5.2.2: the response follows separately). */
  acknowledge(inbound: Inbound): void {
    if (inbound.message.type !== Type.CON) return;
    this.#reply(inbound, emptyMessage(Type.ACK, inbound.message.messageId));
  }

  /**
   * Rejects an inbound message: RST for a CON, silence for a NON (RFC 7252
   * §4.2, §4.3) unless `resetNonConfirmable`, which the client uses so a server
   * stops sending notifications nobody wants (RFC 7641 §3.6).
   */
  reject(inbound: Inbound, resetNonConfirmable = false): void {
    if (inbound.message.type !== Type.CON && !(resetNonConfirmable && inbound.message.type === Type.NON)) {
      return;
    }
    this.#reply(inbound, emptyMessage(Type.RST, inbound.message.messageId));
  }

  /** Stops the endpoint: outstanding and queued CONs fail, the transport closes. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.cancel(this.#timer);
    const closed = new Error("endpoint is closed");
    for (const entry of this.#outstanding) entry?.reject(closed);
    for (const queue of this.#queues.values()) for (const entry of queue) entry.reject(closed);
    this.#outstanding.length = 0;
    this.#queues.clear();
    this.#transport.close();
  }

  #isOutstanding(peer: Peer, messageId: number): boolean {
    return this.#outstanding.some((entry) => entry?.peer === peer && entry.message.messageId === messageId);
  }

  #allocateMessageId(): number {
    const messageId = this.#nextMessageId;
    this.#nextMessageId = (messageId + 1) & 0xffff;
    return messageId;
  }

  #startConfirmable(entry: Queued): void {
    let messageId = this.#allocateMessageId();
    const now = this.#clock.now();
    let slot = this.#core.schedule(entry.peer.id, messageId, now, this.parameters);
    // After a wrap-around the next Message ID may still be outstanding to this peer: skip it.
    for (let tries = 0; slot === SCHEDULE_DUPLICATE && tries < 0xffff; tries++) {
      messageId = this.#allocateMessageId();
      slot = this.#core.schedule(entry.peer.id, messageId, now, this.parameters);
    }
    if (slot < 0) {
      entry.reject(
        new Error(
          slot === SCHEDULE_FULL ? "too many outstanding Confirmable messages" : "no free Message ID",
        ),
      );
      return;
    }
    const message: Message = { ...entry.message, type: Type.CON, messageId };
    const bytes = encode(message);
    this.#outstanding[slot] = {
      bytes,
      message,
      peer: entry.peer,
      resolve: entry.resolve,
      reject: entry.reject,
    };
    this.#inFlight.set(entry.peer.id, (this.#inFlight.get(entry.peer.id) ?? 0) + 1);
    entry.onTransmit?.(messageId);
    this.#transmit(bytes, message, entry.peer.address);
    this.#armTimer();
  }

  #finishConfirmable(slot: number): Outstanding | undefined {
    const entry = this.#outstanding[slot];
    if (entry === undefined) return undefined;
    this.#outstanding[slot] = undefined;
    const peerId = entry.peer.id;
    const count = (this.#inFlight.get(peerId) ?? 1) - 1;
    if (count === 0) this.#inFlight.delete(peerId);
    else this.#inFlight.set(peerId, count);
    const next = this.#queues.get(peerId)?.shift();
    if (next !== undefined) {
      if (this.#queues.get(peerId)!.length === 0) this.#queues.delete(peerId);
      this.#startConfirmable(next);
    }
    return entry;
  }

  /** One timer for the earliest deadline; re-armed only when a deadline earlier than the armed one appears. */
  #armTimer(): void {
    const now = this.#clock.now();
    const wait = this.#core.untilNextDeadline(now);
    if (wait === undefined || this.#closed) return;
    const due = now + Math.max(0, wait);
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    if (this.#timer !== undefined) this.#clock.cancel(this.#timer);
    this.#timerDue = due;
    this.#timer = this.#clock.setTimer(() => this.#onTimer(), Math.max(0, wait));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    this.#core.due(this.#clock.now(), (slot, event) => {
      const entry = this.#outstanding[slot];
      if (entry === undefined) return;
      if (event === "retransmit") {
        this.#transmit(entry.bytes, entry.message, entry.peer.address, this.#core.retransmissions(slot));
      } else {
        this.#finishConfirmable(slot);
        entry.reject(
          new TimeoutError(
            `no ACK or RST from ${entry.peer.key} after ${this.parameters.maxRetransmit} retransmissions`,
          ),
        );
      }
    });
    this.#armTimer();
  }

  #send(message: Message, peer: Peer): Uint8Array {
    const bytes = encode(message);
    this.#transmit(bytes, message, peer.address);
    return bytes;
  }

  #reply(inbound: Inbound, message: Message): void {
    const bytes = this.#send(message, inbound.peer);
    if (inbound.slot >= 0) this.#replies[inbound.slot] = { data: bytes, address: inbound.peer.address };
  }

  #transmit(bytes: Uint8Array, message: Message, address: Address, retransmission = 0): void {
    this.#transport.send([{ data: bytes, address }]);
    this.#onTrace?.({
      direction: "out",
      at: this.#clock.now(),
      peer: address,
      local: this.#transport.local,
      bytes,
      message,
      retransmission,
    });
  }

  /** Reports a received message to onTrace; the event is built only when someone listens. */
  #traceIn(at: number, peer: Address, bytes: Uint8Array, message: Message, duplicate = false): void {
    if (this.#onTrace === undefined) return;
    this.#onTrace({ direction: "in", at, peer, local: this.#transport.local, bytes, message, duplicate });
  }

  #receive({ data, address }: Datagram): void {
    if (this.#closed) return;
    const at = this.#clock.now();
    let message: Message;
    try {
      message = decode(data);
    } catch (error) {
      if (!(error instanceof CoapFormatError)) throw error;
      this.#onTrace?.({
        direction: "in",
        at,
        peer: address,
        local: this.#transport.local,
        bytes: data,
        error: error.message,
      });
      // RFC 7252 §4.2: a CON that cannot be processed, a format error included, is rejected with RST.
      if (data.length >= 4 && data[0] >> 6 === 1 && ((data[0] >> 4) & 3) === Type.CON) {
        this.#send(emptyMessage(Type.RST, (data[2] << 8) | data[3]), this.peer(address));
      }
      return;
    }
    const peer = this.peer(address);
    switch (message.type) {
      case Type.ACK:
      case Type.RST:
        this.#traceIn(at, address, data, message);
        return this.#receiveAnswer(message, peer);
      default:
        return this.#receiveMessage(message, peer, data, at);
    }
  }

  #receiveAnswer(message: Message, peer: Peer): void {
    const slot = this.#core.acknowledge(peer.id, message.messageId);
    const entry = slot >= 0 ? this.#finishConfirmable(slot) : undefined;
    if (entry === undefined) {
      // RFC 7252 §4.2: an ACK or RST that matches no CON is silently ignored; an RST may answer a NON.
      if (message.type === Type.RST) this.onReset(peer, message.messageId);
      return;
    }
    if (message.type === Type.RST) {
      entry.reject(new ResetError(`${peer.key} reset the message (RST)`));
      return;
    }
    entry.resolve(message);
    if (message.code !== 0) this.onResponse({ message, peer, slot: -1 });
  }

  #receiveMessage(message: Message, peer: Peer, data: Uint8Array, at: number): void {
    if (message.code === 0) {
      this.#traceIn(at, peer.address, data, message);
      // RFC 7252 §4.3: an empty CON is a ping, answered with RST; an empty NON is ignored.
      if (message.type === Type.CON) this.#send(emptyMessage(Type.RST, message.messageId), peer);
      return;
    }
    const lifetime = message.type === Type.CON ? this.#exchangeLifetime : this.#nonLifetime;
    const slot = this.#core.deduplicate(peer.id, message.messageId, at, lifetime);
    if (slot < 0) {
      this.#traceIn(at, peer.address, data, message, true);
      // RFC 7252 §4.5: a duplicate CON gets the same answer again; a duplicate NON is dropped.
      const reply = this.#replies[-slot - 1];
      if (message.type === Type.CON && reply !== undefined) {
        this.#transport.send([reply]);
        this.#onTrace?.({
          direction: "out",
          at,
          peer: reply.address,
          local: this.#transport.local,
          bytes: reply.data,
          message: decode(reply.data),
          resent: true,
        });
      }
      return;
    }
    this.#replies[slot] = undefined;
    this.#traceIn(at, peer.address, data, message);
    const inbound = { message, peer, slot };
    if (isRequest(message.code)) this.onRequest(inbound);
    else this.onResponse(inbound);
  }
}

function emptyMessage(type: Type, messageId: number): Message {
  return { type, code: 0, messageId, token: EMPTY, options: [], payload: EMPTY };
}
