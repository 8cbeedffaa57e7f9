/**
 * What the message layer hands the request layer: peers, and messages
 * without their Message IDs.
 * @module
 */
import type { Message } from "../message/message.ts";
import type { Address } from "../transport/transport.ts";

/** A remote endpoint as this endpoint knows it. */
export interface Peer {
  /** The core's peer-table entry it had when made (-1 when the table was full). */
  readonly id: number;
  /** Where the peer is. */
  readonly address: Address;
  /** "host:port": the key the request layer matches tokens under. */
  readonly key: string;
}

/** A message as the request layer hands it down: the endpoint sets type and Message ID. */
export type Outgoing = Omit<Message, "type" | "messageId">;

/** A CON or NON that arrived and is not a duplicate, or a piggybacked response. */
export interface Inbound {
  /** The message, without its Message ID mattering to the request layer. */
  readonly message: Message;
  /** Who sent it. */
  readonly peer: Peer;
  /** Where the answer is kept for duplicates (RFC 7252 §4.5); -1 when it is not kept. */
  readonly handle: number;
  /** The datagram's length in bytes (RFC 7252 §11.3 measures amplification against it). */
  readonly size: number;
  /** When it arrived, on the endpoint's clock: one clock reading serves everything that handles it at once. */
  readonly at: number;
}
