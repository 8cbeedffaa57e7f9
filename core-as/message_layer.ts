// The RFC 7252 §4 message layer's decisions, made once for both hosts: after
// a datagram is copied in (and its sender's address written to the address
// area), receive() parses it and says what to do with it (layout.ts ACTION_*),
// keeping the peer table, the dedup windows and the exchanges in step. The
// host only moves bytes, stores replies and hands messages up.
import {
  ACTION_ACKNOWLEDGED, ACTION_BUSY, ACTION_DUPLICATE, ACTION_EXCHANGE_RESET, ACTION_IGNORE, ACTION_NON_RESET,
  ACTION_REQUEST, ACTION_RESET, ACTION_RESPONSE, ERR_NONE, NO_MESSAGE_ID, RX_OFFSET, SLOT_CODE, SLOT_HANDLE,
  SLOT_MESSAGE_ID, SLOT_NON_HANDLE, SLOT_PEER, SLOT_PEER_NEW, SLOT_RETRY_AFTER, SLOT_TYPE,
} from "./layout";
import { decode } from "./codec";
import { dedupInit, strictFind, strictInsert, strictRetryAt } from "./dedup";
import {
  nonFind, nonForget, peerCapacity, peerHeard, rememberNon, peerFind, peerFindOrAdd, peerRoomAt, peersInit,
  peerWasAdded, safeFind, safeInsert, safeWindowSize, takeMessageId,
} from "./peers";
import { acknowledge, isOutstanding, retransmitInit } from "./retransmit";
import { setSlot, SHARED } from "./shared";

const CON = 0;
const NON = 1;
const ACK = 2;
const RST = 3;

let exchangeLifetime: u32 = 247000;
let nonLifetime: u32 = 145000;

/**
 * Sizes every table of the message layer and sets the lifetimes (ms, from the
 * host's RFC 7252 §4.8 parameters). Call once, before anything else.
 */
export function messageLayerInit(
  peers: i32,
  safeWindow: i32,
  recentNons: i32,
  strictEntries: i32,
  strictPerPeer: i32,
  retransmitSlots: i32,
  exchangeLifetimeMs: u32,
  nonLifetimeMs: u32,
): void {
  peersInit(peers, safeWindow, recentNons);
  dedupInit(strictEntries, strictPerPeer);
  retransmitInit(retransmitSlots);
  exchangeLifetime = exchangeLifetimeMs;
  nonLifetime = nonLifetimeMs;
}

/**
 * Requests that may be processed again if a duplicate slips past the small
 * per-peer window (RFC 7252 §4.5 allows relaxing for idempotent requests;
 * GET and FETCH are safe, RFC 8132 §2): they never pin a strict entry.
 * Responses are matched by token above, so they count as safe here too.
 */
@inline function isSafe(code: i32): bool {
  return code == 1 || code == 5 || code >= 64;
}

/** Seconds until `at`: at least 1, at most EXCHANGE_LIFETIME (by then every strict entry has expired). */
function secondsUntil(at: u32, now: u32): i32 {
  const wait = min(<i32>(at - now), <i32>exchangeLifetime);
  return wait <= 0 ? 1 : (wait + 999) / 1000;
}

/** RFC 7252 §4.2/§4.3: a CON that cannot be processed is rejected with RST; anything else is dropped. */
@inline function rejectIfConfirmable(type: i32): i32 {
  return type == CON ? ACTION_RESET : ACTION_IGNORE;
}

/**
 * Parses the `length`-byte datagram in RX from the peer in the address area
 * and decides what it is. Returns an ACTION_*; see layout.ts for the slots
 * each action fills.
 */
export function receive(length: i32, now: u32): i32 {
  setSlot(SLOT_PEER, -1);
  setSlot(SLOT_PEER_NEW, 0);
  setSlot(SLOT_HANDLE, -1);
  if (decode(length) != ERR_NONE) {
    if (length < 4) return ACTION_IGNORE;
    const rx = SHARED + RX_OFFSET;
    const first = <i32>load<u8>(rx);
    setSlot(SLOT_MESSAGE_ID, <i32>load<u8>(rx, 2) << 8 | <i32>load<u8>(rx, 3));
    return first >> 6 == 1 ? rejectIfConfirmable((first >> 4) & 3) : ACTION_IGNORE;
  }
  const type = load<i32>(SHARED + (<usize>SLOT_TYPE << 2));
  const code = load<i32>(SHARED + (<usize>SLOT_CODE << 2));
  const messageId = <u32>load<i32>(SHARED + (<usize>SLOT_MESSAGE_ID << 2));
  if (type == ACK || type == RST) return receiveAnswer(type, messageId, now);
  // RFC 7252 §4.3: an empty CON is a ping; classes 1, 6 and 7 are reserved (§12.1). Either way the peer
  // is there, which is what PROBING_RATE asks (§4.7).
  if (code == 0 || (code >= 32 && code < 64) || code >= 192) {
    const known = peerFind();
    if (known >= 0) peerHeard(known, now);
    return rejectIfConfirmable(type);
  }
  const peer = peerFindOrAdd(now);
  if (peer < 0) {
    // No entry to remember it by. A safe request may be processed anyway (§4.5: a duplicate would only be
    // processed again); a response matches nothing of ours; anything else must wait for room.
    if (code >= 64) return rejectIfConfirmable(type);
    if (isSafe(code)) return ACTION_REQUEST;
    setSlot(SLOT_RETRY_AFTER, secondsUntil(peerRoomAt(), now));
    return ACTION_BUSY;
  }
  setSlot(SLOT_PEER, peer);
  setSlot(SLOT_PEER_NEW, peerWasAdded() ? 1 : 0);
  peerHeard(peer, now);
  const safe = isSafe(code);
  const lifetime = type == CON ? exchangeLifetime : nonLifetime;
  let handle = strictFind(peer, messageId, now);
  if (handle >= 0) {
    setSlot(SLOT_HANDLE, handle + peerCapacity() * safeWindowSize());
    return ACTION_DUPLICATE;
  }
  handle = safeFind(peer, messageId, now);
  if (handle >= 0) {
    setSlot(SLOT_HANDLE, handle);
    return ACTION_DUPLICATE;
  }
  if (safe) {
    handle = safeInsert(peer, messageId, now + lifetime);
  } else {
    handle = strictInsert(peer, messageId, now, lifetime);
    if (handle < 0) {
      setSlot(SLOT_RETRY_AFTER, secondsUntil(strictRetryAt(), now));
      return ACTION_BUSY;
    }
    handle += peerCapacity() * safeWindowSize();
  }
  setSlot(SLOT_HANDLE, handle);
  return code >= 64 ? ACTION_RESPONSE : ACTION_REQUEST;
}

/** An ACK or RST: it settles one of our CONs, or (an RST) answers a recent NON; otherwise it is ignored (§4.2). */
function receiveAnswer(type: i32, messageId: u32, now: u32): i32 {
  const peer = peerFind();
  if (peer < 0) return ACTION_IGNORE;
  setSlot(SLOT_PEER, peer);
  peerHeard(peer, now);
  const slot = acknowledge(<u32>peer, messageId);
  if (slot >= 0) {
    setSlot(SLOT_HANDLE, slot);
    return type == ACK ? ACTION_ACKNOWLEDGED : ACTION_EXCHANGE_RESET;
  }
  if (type == RST) {
    const non = nonFind(peer, messageId, now);
    if (non >= 0) {
      nonForget(non);
      setSlot(SLOT_NON_HANDLE, non);
      return ACTION_NON_RESET;
    }
  }
  return ACTION_IGNORE;
}

/** The entry for the peer in the address area, added if new (for sending to it); -1 when the table is full. */
export function peerFor(now: u32): i32 {
  const peer = peerFindOrAdd(now);
  setSlot(SLOT_PEER_NEW, peerWasAdded() ? 1 : 0);
  return peer;
}

/**
 * A Message ID for a new CON or NON to `peer` (RFC 7252 §4.4): the peer's
 * next one in sequence, skipping IDs of CONs still in flight to it and of
 * NONs it may still answer with RST. NO_MESSAGE_ID if all 65,536 are taken.
 */
export function allocateMessageId(peer: i32, now: u32): i32 {
  for (let tries = 0; tries < 0x10000; tries++) {
    const messageId = takeMessageId(peer);
    if (!isOutstanding(<u32>peer, messageId) && nonFind(peer, messageId, now) < 0) return <i32>messageId;
  }
  return NO_MESSAGE_ID;
}

/** Remembers a NON just sent to `peer` for NON_LIFETIME; its handle, which an RST to it reports (NON_RESET). */
export function recordNon(peer: i32, messageId: u32, now: u32): i32 {
  return rememberNon(peer, messageId, now + nonLifetime);
}
