/**
 * Every bound the server keeps on its own state, above the message layer's tables: requests in progress,
 * Block1 reassembly, kept Block2 renderings, observers. Each is an option of CoapServer; this file holds
 * the defaults, fills them in and lists them for `serve --verbose`.
 * @module
 */
import type { MessageLayerSizes } from "../endpoint/endpoint.ts";
import { exchangeLifetime, maxTransmitWait, type TransmissionParameters } from "../endpoint/params.ts";
import { type AmplificationLimits, DEFAULT_AMPLIFICATION } from "./amplification.ts";

/** Limits on observers (RFC 7641 §4.1); beyond any of them a GET with Observe gets a plain response. */
export interface ObserveLimits {
  /** Observers of one resource (default 16,384). */
  perResource: number;
  /** Observations of one peer, an address and port (default 64). */
  perPeer: number;
  /** Observations from one IP address across its ports (default 256), so one host cannot take them all. */
  perAddress: number;
  /** Observations in all (default 65,536). */
  total: number;
}

/** The server's bounds; ServerOptions takes any of them, the rest get the defaults documented here. */
export interface ServerLimits {
  /**
   * Requests of one peer in progress: handler not done, or separate response not yet acknowledged
   * (default 16; a client keeps NSTART = 1 outstanding, RFC 7252 §4.7). Beyond it, 5.03 with Max-Age.
   */
  maxPendingPerPeer: number;
  /** Requests in progress across peers (default 4,096). Beyond it, 5.03 with Max-Age. */
  maxPending: number;
  /**
   * Ms a handler may take (default MAX_TRANSMIT_WAIT, 93 s: as long as a client waits for a separate
   * response after its empty ACK). After it the client gets 5.03 and the handler's result is dropped.
   */
  handlerTimeout: number;
  /**
   * Ms a separate response may wait for its ACK, queued behind other CONs to the peer (NSTART) or being
   * retransmitted (default MAX_TRANSMIT_WAIT); then it is dropped.
   */
  separateResponseLifetime: number;
  /** Largest request body reassembled from Block1 blocks (bytes, default 2 MiB); beyond, 4.13 with Size1. */
  maxBodySize: number;
  /** Block1 uploads being reassembled at once (default 1,000); a new one beyond it gets 5.03 with Max-Age. */
  maxBlock1Uploads: number;
  /** Bytes of unfinished Block1 uploads of one peer (default 4 MiB); a block beyond it gets 5.03. */
  maxBlock1BytesPerPeer: number;
  /** Bytes of unfinished Block1 uploads in all (default 16 MiB); a block beyond it gets 5.03. */
  maxBlock1Bytes: number;
  /** Ms an unfinished upload is kept after its last block (default EXCHANGE_LIFETIME); then 4.08. */
  block1Lifetime: number;
  /**
   * Responses to PUT, POST, FETCH (any method but GET) larger than a block are rendered once and kept for
   * their Block2 continuations (RFC 7959 §2.7): at most this many transfers at once (default 1,000); beyond
   * it the least recently used is dropped, and its next continuation gets 4.08.
   */
  maxBlock2Renderings: number;
  /**
   * Bytes of those kept responses, payloads and option values (default 16 MiB); beyond it the least recently
   * used are dropped. A response larger than this on its own is answered with 5.00.
   */
  maxBlock2RenderingBytes: number;
  /** Ms a kept response stays after its last block was served (default EXCHANGE_LIFETIME, RFC 7959 §2.4). */
  block2RenderingLifetime: number;
  /** Observer limits. */
  observeLimits: ObserveLimits;
  /**
   * Amplification control (RFC 7252 §11.3, RFC 9175 §2.4): an address not verified by Echo gets no answer
   * larger than `factor` (3) × its request — a smaller Block2 block, or 4.01 with Echo.
   */
  amplification: AmplificationLimits;
}

/** What a server's options may say about its limits. */
export type ServerLimitOptions = Partial<Omit<ServerLimits, "observeLimits" | "amplification">> & {
  observeLimits?: Partial<ObserveLimits>;
  amplification?: Partial<AmplificationLimits>;
};

/** The observer limits' defaults. */
export const DEFAULT_OBSERVE_LIMITS: Readonly<ObserveLimits> = {
  perResource: 16_384,
  perPeer: 64,
  perAddress: 256,
  total: 65_536,
};

const MIB = 1024 * 1024;

/**
 * The given limits with the defaults filled in; the times derive from the endpoint's parameters.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PARAMETERS } from "../mod.ts";
 * import { resolveServerLimits } from "./limits.ts";
 * const limits = resolveServerLimits({ maxPendingPerPeer: 4 }, DEFAULT_PARAMETERS);
 * assert.equal(limits.maxPendingPerPeer, 4);
 * assert.equal(limits.handlerTimeout, 93_000); // MAX_TRANSMIT_WAIT
 * assert.equal(limits.observeLimits.perAddress, 256);
 * ```
 */
export function resolveServerLimits(
  given: ServerLimitOptions,
  parameters: TransmissionParameters,
): ServerLimits {
  const wait = maxTransmitWait(parameters);
  const lifetime = exchangeLifetime(parameters);
  const limits: ServerLimits = {
    maxPendingPerPeer: given.maxPendingPerPeer ?? 16,
    maxPending: given.maxPending ?? 4096,
    handlerTimeout: given.handlerTimeout ?? wait,
    separateResponseLifetime: given.separateResponseLifetime ?? wait,
    maxBodySize: given.maxBodySize ?? 2 * MIB,
    maxBlock1Uploads: given.maxBlock1Uploads ?? 1000,
    maxBlock1BytesPerPeer: given.maxBlock1BytesPerPeer ?? 4 * MIB,
    maxBlock1Bytes: given.maxBlock1Bytes ?? 16 * MIB,
    block1Lifetime: given.block1Lifetime ?? lifetime,
    maxBlock2Renderings: given.maxBlock2Renderings ?? 1000,
    maxBlock2RenderingBytes: given.maxBlock2RenderingBytes ?? 16 * MIB,
    block2RenderingLifetime: given.block2RenderingLifetime ?? lifetime,
    observeLimits: { ...DEFAULT_OBSERVE_LIMITS, ...given.observeLimits },
    amplification: { ...DEFAULT_AMPLIFICATION, ...given.amplification },
  };
  for (
    const [name, value] of Object.entries({ ...limits, ...limits.observeLimits, ...limits.amplification })
  ) {
    if (typeof value === "number" && !(value >= 0)) throw new RangeError(`${name} ${value} must be ≥ 0`);
  }
  return limits;
}

/**
 * One line per limit, message-layer tables and transmission parameters included: what `serve --verbose`
 * prints at start.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PARAMETERS } from "../mod.ts";
 * import { limitLines, resolveServerLimits } from "./limits.ts";
 * import { SERVER_LIMITS } from "./server.ts";
 * const lines = limitLines(resolveServerLimits({}, DEFAULT_PARAMETERS), SERVER_LIMITS, DEFAULT_PARAMETERS);
 * assert.ok(lines.includes("maxPendingPerPeer          16"));
 * assert.ok(lines.includes("observeLimits.perAddress   256"));
 * assert.ok(lines.includes("probingRate                1 byte/s"));
 * ```
 */
export function limitLines(
  limits: ServerLimits,
  sizes: Partial<MessageLayerSizes>,
  parameters: TransmissionParameters,
): string[] {
  const rows: [string, string][] = [];
  for (const [name, value] of Object.entries(sizes)) rows.push([`limits.${name}`, count(value)]);
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value === "number") rows.push([name, describe(name, value)]);
  }
  for (const [name, value] of Object.entries(limits.observeLimits)) {
    rows.push([`observeLimits.${name}`, count(value)]);
  }
  const { factor, verifiedFor, maxEntries } = limits.amplification;
  rows.push(["amplification.factor", `${factor}×`]);
  rows.push(["amplification.verifiedFor", `${verifiedFor / 1000} s`]);
  rows.push(["amplification.maxEntries", count(maxEntries)]);
  rows.push(["probingRate", `${parameters.probingRate} byte/s`]);
  return rows.map(([name, value]) => `${name.padEnd(26)} ${value}`);
}

function describe(name: string, value: number): string {
  if (/Lifetime|Timeout/.test(name)) return `${value / 1000} s`;
  if (/Bytes|BodySize/.test(name)) {
    return value % MIB === 0 ? `${value / MIB} MiB` : `${count(value)} bytes`;
  }
  return count(value);
}

/** 65536 as "65,536", grouped here: toLocaleString would load ICU's number formatting into every server. */
function count(value: number | undefined): string {
  return String(value ?? 0).replace(/\B(?=(\d{3})+$)/g, ",");
}
