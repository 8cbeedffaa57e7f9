/** One datagram crossing an endpoint, as seen by `--verbose` and traces. */
import type { Message } from "../message/message.ts";
import type { Address } from "../transport/transport.ts";

/** A datagram sent or received, with what the message layer made of it. */
export interface TraceEvent {
  /** Received ("in") or sent ("out"). */
  direction: "in" | "out";
  /** Clock time, ms. */
  at: number;
  /** The remote address: the sender of an inbound datagram, the destination of an outbound one. */
  peer: Address;
  /** The local address of the endpoint's transport (may be a wildcard such as "0.0.0.0"). */
  local: Address;
  /** The datagram as it went over the wire. */
  bytes: Uint8Array;
  /** Absent when the datagram was malformed. */
  message?: Message;
  /** Why a received datagram was not a message. */
  error?: string;
  /** For a retransmitted CON: which retransmission (1 … MAX_RETRANSMIT). */
  retransmission?: number;
  /** A received duplicate (RFC 7252 §4.5). */
  duplicate?: boolean;
  /** An answer sent again for a duplicate. */
  resent?: boolean;
}
