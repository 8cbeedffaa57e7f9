/** Why a Confirmable exchange or a request failed. */

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
