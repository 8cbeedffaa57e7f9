/**
 * RFC 7252 §4.8 transmission parameters and the times derived from them (§4.8.2).
 * @module
 */

/** The configurable parameters, in milliseconds where they are times. */
export interface TransmissionParameters {
  /** Initial retransmission timeout before randomization (ACK_TIMEOUT). */
  ackTimeout: number;
  /** Initial timeouts are drawn from [ackTimeout, ackTimeout × ackRandomFactor] (ACK_RANDOM_FACTOR). */
  ackRandomFactor: number;
  /** Retransmissions before giving up (MAX_RETRANSMIT). */
  maxRetransmit: number;
  /** Outstanding Confirmable messages per peer (NSTART). */
  nstart: number;
  /** Longest a datagram is expected to take across the network (MAX_LATENCY). */
  maxLatency: number;
  /**
   * Average bytes per second at most to a peer that has not answered recently (PROBING_RATE, RFC 7252
   * §4.7): one silent for MAX_TRANSMIT_SPAN.
   */
  probingRate: number;
}

/** The RFC's defaults. */
export const DEFAULT_PARAMETERS: Readonly<TransmissionParameters> = {
  ackTimeout: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  nstart: 1,
  maxLatency: 100_000,
  probingRate: 1,
};

/** MAX_TRANSMIT_SPAN: first transmission to last retransmission of a CON. */
export function maxTransmitSpan(p: TransmissionParameters): number {
  return p.ackTimeout * (2 ** p.maxRetransmit - 1) * p.ackRandomFactor;
}

/** MAX_TRANSMIT_WAIT: first transmission to giving up on an ACK or RST. */
export function maxTransmitWait(p: TransmissionParameters): number {
  return p.ackTimeout * (2 ** (p.maxRetransmit + 1) - 1) * p.ackRandomFactor;
}

/** EXCHANGE_LIFETIME: how long a CON's Message ID is remembered for deduplication. */
export function exchangeLifetime(p: TransmissionParameters): number {
  const processingDelay = p.ackTimeout;
  return maxTransmitSpan(p) + 2 * p.maxLatency + processingDelay;
}

/** NON_LIFETIME: how long a NON's Message ID is remembered. */
export function nonLifetime(p: TransmissionParameters): number {
  return maxTransmitSpan(p) + p.maxLatency;
}

/** Fills in defaults and rejects values that cannot work. */
export function resolveParameters(given: Partial<TransmissionParameters> = {}): TransmissionParameters {
  const p = { ...DEFAULT_PARAMETERS, ...given };
  if (!(p.ackTimeout > 0)) throw new RangeError(`ackTimeout ${p.ackTimeout} must be > 0 ms`);
  if (!(p.ackRandomFactor >= 1)) throw new RangeError(`ackRandomFactor ${p.ackRandomFactor} must be ≥ 1`);
  if (!(Number.isInteger(p.maxRetransmit) && p.maxRetransmit >= 0 && p.maxRetransmit <= 20)) {
    throw new RangeError(`maxRetransmit ${p.maxRetransmit} must be an integer 0..20`);
  }
  if (!(Number.isInteger(p.nstart) && p.nstart >= 1)) {
    throw new RangeError(`nstart ${p.nstart} must be an integer ≥ 1`);
  }
  if (!(p.maxLatency >= 0)) throw new RangeError(`maxLatency ${p.maxLatency} must be ≥ 0 ms`);
  if (!(p.probingRate > 0)) throw new RangeError(`probingRate ${p.probingRate} must be > 0 bytes/s`);
  return p;
}
