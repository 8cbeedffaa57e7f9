/** Why a Confirmable exchange or a request failed. */

/** No answer within the allowed time: MAX_RETRANSMIT retransmissions, or the caller's deadline. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** The peer answered with RST: it could not or would not process the message. */
export class ResetError extends Error {
  override name = "ResetError";
}
