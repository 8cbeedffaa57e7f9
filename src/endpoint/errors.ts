/**
 * Why a Confirmable exchange or a request failed.
 * @module
 */
import { type Address, addressKey, type UnreachableReason } from "../transport/transport.ts";

/** No answer within the allowed time: MAX_RETRANSMIT retransmissions, or the caller's deadline. */
export class TimeoutError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "TimeoutError";
}

/** The peer answered with RST: it could not or would not process the message. */
export class ResetError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "ResetError";
}

/** A Confirmable message was superseded by a newer one before it was acknowledged (RFC 7641 §4.5.2). */
export class ReplacedError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "ReplacedError";
}

/**
 * An ICMP error said the peer cannot be reached (RFC 792, RFC 4443 §3.1: its port is closed, or no route
 * leads to its host or network): its exchanges fail at once instead of after every retransmission.
 */
export class UnreachableError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "UnreachableError";
  /** The message, "127.0.0.1:5683: port unreachable", made from the peer's key and the reason. */
  constructor(
    /** The peer that cannot be reached. */
    readonly address: Address,
    /** What the ICMP error said. */
    readonly reason: UnreachableReason,
  ) {
    super(`${addressKey(address)}: ${reason}`);
  }
}
