// RFC 7252 §4.5 duplicate detection for messages that must never be processed
// twice (POST, PUT, DELETE, PATCH, iPATCH): every (peer, Message ID) is kept
// for its whole lifetime (EXCHANGE_LIFETIME for CON, NON_LIFETIME for NON).
// Entries come from one pool, used as a ring in arrival order, and each peer
// may hold at most `quota` of them, so no peer's traffic can push out another
// peer's live entries: a live entry is never overwritten. When the pool or the
// peer's quota is full the caller is told when room is expected, and the host
// answers 5.03 Service Unavailable (never a second run of the handler).
//
// Sizing: entries needed = rate of such requests × EXCHANGE_LIFETIME (247 s with
// the RFC's defaults), e.g. 65,536 entries carry 265 POSTs/s across all peers.
import { peerLockUntil, setStrictList, strictCount, strictHead, strictTail } from "./peers";
import { indexFind, indexInsert, indexRemove, powerOfTwoAtLeast, reserve } from "./tables";

const STRIDE: usize = 20;
const PEER = 0; // u32: the peer + 1, FREE when unused (the index matches this field)
const MESSAGE_ID = 4;
const EXPIRES = 8;
const PREVIOUS = 12; // i32: the peer's entry before this one, or -1
const NEXT = 16; // i32

// Zero, so the pool needs no initialising pass: reserved memory is zeroed, and untouched pages stay
// unmapped until their entries are first used.
const FREE: u32 = 0;

let capacity: i32 = 0;
let quota: i32 = 0;
let entries: usize = 0;
let index: usize = 0;
let mask: u32 = 0;
let cursor: i32 = 0;
let live: i32 = 0;
let retryAt: u32 = 0;

@inline function earlier(a: u32, b: u32): bool {
  return <i32>(a - b) < 0;
}

@inline function entry(i: i32): usize {
  return entries + <usize>i * STRIDE;
}

/** Sizes the pool: `slots` entries in all, at most `perPeer` for one peer. */
export function dedupInit(slots: i32, perPeer: i32): void {
  capacity = max(slots, 1);
  quota = perPeer;
  entries = reserve(<usize>capacity * STRIDE);
  mask = powerOfTwoAtLeast(<u32>capacity * 2) - 1;
  index = reserve(<usize>(mask + 1) << 2);
}

/** Pool entries in use (some may have expired and not yet been reclaimed). */
export function strictEntries(): i32 {
  return live;
}

/** After strictInsert() returned -1: when room is expected (ms clock). */
export function strictRetryAt(): u32 {
  return retryAt;
}

function release(i: i32): void {
  const e = entry(i);
  const peer = <i32>load<u32>(e, PEER) - 1;
  const previous = load<i32>(e, PREVIOUS);
  const next = load<i32>(e, NEXT);
  let head = strictHead(peer);
  let tail = strictTail(peer);
  if (previous >= 0) store<i32>(entry(previous), next, NEXT);
  else head = next;
  if (next >= 0) store<i32>(entry(next), previous, PREVIOUS);
  else tail = previous;
  setStrictList(peer, head, tail, strictCount(peer) - 1);
  indexRemove(index, mask, entries, STRIDE, i);
  store<u32>(e, FREE, PEER);
  live--;
}

/** Frees every entry of a peer whose table entry is being reused (all have expired by then). */
export function strictReleaseAll(peer: i32): void {
  let i = strictHead(peer);
  while (i >= 0) {
    const next = load<i32>(entry(i), NEXT);
    release(i);
    i = next;
  }
}

/** The handle of a live entry for (peer, Message ID), or -1; an expired one found on the way is freed. */
export function strictFind(peer: i32, messageId: u32, now: u32): i32 {
  const i = indexFind(index, mask, entries, STRIDE, <u32>peer + 1, messageId);
  if (i < 0) return -1;
  if (earlier(now, load<u32>(entry(i), EXPIRES))) return i;
  release(i);
  return -1;
}

/** Records (peer, Message ID) until now + lifetime; its handle, or -1 when there is no room (see strictRetryAt). */
export function strictInsert(peer: i32, messageId: u32, now: u32, lifetime: u32): i32 {
  // The peer's oldest entries go first: the list is in arrival order.
  let head = strictHead(peer);
  while (head >= 0 && !earlier(now, load<u32>(entry(head), EXPIRES))) {
    release(head);
    head = strictHead(peer);
  }
  if (strictCount(peer) >= quota) {
    retryAt = head >= 0 ? load<u32>(entry(head), EXPIRES) : now;
    return -1;
  }
  const i = cursor;
  const e = entry(i);
  if (load<u32>(e, PEER) != FREE) {
    if (earlier(now, load<u32>(e, EXPIRES))) {
      retryAt = load<u32>(e, EXPIRES);
      return -1;
    }
    release(i);
  }
  cursor = cursor + 1 == capacity ? 0 : cursor + 1;
  const expires = now + lifetime;
  store<u32>(e, <u32>peer + 1, PEER);
  store<u32>(e, messageId, MESSAGE_ID);
  store<u32>(e, expires, EXPIRES);
  const tail = strictTail(peer);
  store<i32>(e, tail, PREVIOUS);
  store<i32>(e, -1, NEXT);
  if (tail >= 0) store<i32>(entry(tail), i, NEXT);
  setStrictList(peer, tail >= 0 ? strictHead(peer) : i, i, strictCount(peer) + 1);
  indexInsert(index, mask, i, <u32>peer + 1, messageId);
  peerLockUntil(peer, expires);
  live++;
  return i;
}
