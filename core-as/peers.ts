// The peer table: one entry per remote endpoint (address and port), with what
// the message layer keeps per peer — its next Message ID, a small window of its
// recent safe messages for duplicate detection, the NONs we sent it lately
// (RFC 7641 §3.6), when it was last heard from and how fast we may send to it
// while it is quiet (RFC 7252 §4.7 PROBING_RATE), and counts of what pins the
// entry: CONs in flight, the host's holds (observations, separate responses),
// and strict dedup entries that live until `lockedUntil`. An entry nothing pins is reused for a
// newcomer (second-chance clock); its windows are cleared first, so a newcomer
// never matches an old occupant's keys.
import { ADDRESS_CAPACITY, ADDRESS_OFFSET, SLOT_ADDRESS_LENGTH, SLOT_ADDRESS_PORT } from "./layout";
import { getSlot, SHARED } from "./shared";
import { strictReleaseAll } from "./dedup";
import { nextRandom } from "./retransmit";
import { indexInsert, indexRemove, powerOfTwoAtLeast, reserve } from "./tables";

// Entry layout. HASH and KEY sit at 0 and 4 so the shared index (tables.ts) can place entries.
const HASH = 0;
const KEY = 4; // port | address length << 16
const HOLDS = 8; // u16: the host's holds
const IN_FLIGHT = 10; // u16: CONs outstanding to this peer
const LOCKED_UNTIL = 12; // u32: when the last strict dedup entry expires
const FLAGS = 16; // u8
const SAFE_CURSOR = 17; // u8
const NON_CURSOR = 18; // u8
const NEXT_MESSAGE_ID = 20; // u16
const STRICT_HEAD = 24; // i32: this peer's strict dedup entries, oldest first (dedup.ts)
const STRICT_TAIL = 28; // i32
const STRICT_COUNT = 32; // i32
const HEARD_AT = 36; // u32: when a datagram last came from the peer
const PACED_UNTIL = 40; // u32: while it is quiet, nothing more is sent to it before this
const ADDRESS: usize = 44;
const WINDOWS: usize = ADDRESS + <usize>ADDRESS_CAPACITY;

const USED: u8 = 1;
const REFERENCED: u8 = 2;

// A safe-window entry: Message ID, flags, expiry.
const SAFE_SIZE: usize = 8;
// A recent-NON entry: Message ID, used, expiry.
const NON_SIZE: usize = 8;

let capacity: i32 = 0;
let safeWindow: i32 = 0;
let recentNons: i32 = 0;
let stride: usize = 0;
let entries: usize = 0;
let index: usize = 0;
let mask: u32 = 0;
let hand: i32 = 0;
let occupied: i32 = 0;
/** After a clock sweep found every entry pinned by time alone: no entry frees up before this. */
let noneFreeBefore: u32 = 0;
let sweepFailed = false;
/** RFC 7252 §4.7 PROBING_RATE in bytes per 1,000 s (1 byte/s by default). */
let probingRate: u32 = 1000;
/** A peer not heard from for this long is quiet (ms; MAX_TRANSMIT_SPAN with the RFC's parameters). */
let quietAfter: u32 = 45000;

@inline function earlier(a: u32, b: u32): bool {
  return <i32>(a - b) < 0;
}

@inline export function peerEntry(peer: i32): usize {
  return entries + <usize>peer * stride;
}

/** Sizes the table: `peers` entries, each with `window` safe dedup entries and `nons` recent NONs. */
export function peersInit(peers: i32, window: i32, nons: i32): void {
  capacity = peers;
  safeWindow = window;
  recentNons = nons;
  stride = (WINDOWS + <usize>window * SAFE_SIZE + <usize>nons * NON_SIZE + 7) & ~7;
  entries = reserve(<usize>peers * stride);
  mask = powerOfTwoAtLeast(<u32>peers * 2) - 1;
  index = reserve(<usize>(mask + 1) << 2);
}

/** Peer entries in use. */
export function peerCount(): i32 {
  return occupied;
}

/** Safe-window entries per peer; dedup handles below peerCapacity() × this are safe-window handles. */
export function safeWindowSize(): i32 {
  return safeWindow;
}

export function peerCapacity(): i32 {
  return capacity;
}

function addressHash(length: i32, port: u32): u32 {
  let h: u32 = 0x811c9dc5 ^ port;
  const address = SHARED + ADDRESS_OFFSET;
  for (let i = 0; i < length; i++) h = (h ^ <u32>load<u8>(address + <usize>i)) * 0x01000193;
  return h;
}

function sameAddress(e: usize, length: i32): bool {
  return memory.compare(e + ADDRESS, SHARED + ADDRESS_OFFSET, <usize>length) == 0;
}

/** The entry holding the address in the address area, or -1. */
export function peerFind(): i32 {
  const length = min(max(getSlot(SLOT_ADDRESS_LENGTH), 0), ADDRESS_CAPACITY);
  const key = <u32>getSlot(SLOT_ADDRESS_PORT) & 0xffff | <u32>length << 16;
  const hash = addressHash(length, key);
  let bucket = (hash * 0x9e3779b1 ^ key * 0x85ebca6b);
  bucket = (bucket ^ (bucket >> 15)) & mask;
  while (true) {
    const held = load<u32>(index + (<usize>bucket << 2));
    if (held == 0) return -1;
    const e = peerEntry(<i32>held - 1);
    if (load<u32>(e, HASH) == hash && load<u32>(e, KEY) == key && sameAddress(e, length)) return <i32>held - 1;
    bucket = (bucket + 1) & mask;
  }
}

/** Whether nothing pins the entry at `now`. */
function evictable(e: usize, now: u32): bool {
  return load<u16>(e, HOLDS) == 0 && load<u16>(e, IN_FLIGHT) == 0 && !earlier(now, load<u32>(e, LOCKED_UNTIL));
}

/** Empties an entry's windows and strict list (the caller frees the strict entries first). */
function clearEntry(e: usize): void {
  memory.fill(e + HOLDS, 0, WINDOWS - HOLDS);
  memory.fill(e + WINDOWS, 0, stride - WINDOWS);
  store<i32>(e, -1, STRICT_HEAD);
  store<i32>(e, -1, STRICT_TAIL);
}

/** A free entry, or one whose occupant may go (second chance for those seen lately); -1 if none. */
function victim(now: u32): i32 {
  if (sweepFailed && earlier(now, noneFreeBefore)) return -1;
  let soonest: u32 = now + 0x7fffffff;
  for (let step = 0; step < capacity * 2; step++) {
    const peer = hand;
    hand = hand + 1 == capacity ? 0 : hand + 1;
    const e = peerEntry(peer);
    const flags = load<u8>(e, FLAGS);
    if ((flags & USED) == 0) return peer;
    if ((flags & REFERENCED) != 0) {
      store<u8>(e, flags & ~REFERENCED, FLAGS);
      continue;
    }
    if (evictable(e, now)) {
      strictReleaseAll(peer);
      indexRemove(index, mask, entries, stride, peer);
      occupied--;
      return peer;
    }
    if (load<u16>(e, HOLDS) == 0 && load<u16>(e, IN_FLIGHT) == 0 && earlier(load<u32>(e, LOCKED_UNTIL), soonest)) {
      soonest = load<u32>(e, LOCKED_UNTIL);
    }
  }
  sweepFailed = true;
  noneFreeBefore = soonest;
  return -1;
}

/** When, at the earliest, a full table may have room again (ms clock); meaningful after peerFindOrAdd failed. */
export function peerRoomAt(): u32 {
  return noneFreeBefore;
}

/** Something that pinned an entry let go: the next newcomer sweeps again. */
@inline function unpinned(): void {
  sweepFailed = false;
}

let added = false;

/**
 * The entry for the address in the address area, given a new one (its first
 * Message ID drawn at random, RFC 7252 §4.4) if it has none. Returns the
 * entry, or -1 when every entry is pinned; peerWasAdded() tells whether it is new.
 */
export function peerFindOrAdd(now: u32): i32 {
  added = false;
  let peer = peerFind();
  if (peer >= 0) {
    const e = peerEntry(peer);
    store<u8>(e, load<u8>(e, FLAGS) | REFERENCED, FLAGS);
    return peer;
  }
  peer = victim(now);
  if (peer < 0) return -1;
  const e = peerEntry(peer);
  const length = min(max(getSlot(SLOT_ADDRESS_LENGTH), 0), ADDRESS_CAPACITY);
  const key = <u32>getSlot(SLOT_ADDRESS_PORT) & 0xffff | <u32>length << 16;
  clearEntry(e);
  store<u32>(e, addressHash(length, key), HASH);
  store<u32>(e, key, KEY);
  memory.copy(e + ADDRESS, SHARED + ADDRESS_OFFSET, <usize>length);
  store<u32>(e, now, LOCKED_UNTIL);
  // A newcomer counts as heard from: a peer we start talking to gets quietAfter to answer.
  store<u32>(e, now, HEARD_AT);
  store<u32>(e, now, PACED_UNTIL);
  store<u16>(e, <u16>nextRandom(), NEXT_MESSAGE_ID);
  store<u8>(e, USED | REFERENCED, FLAGS);
  indexInsert(index, mask, peer, load<u32>(e, HASH), key);
  occupied++;
  added = true;
  return peer;
}

/** Whether the last peerFindOrAdd() gave out a new entry. */
export function peerWasAdded(): bool {
  return added;
}

/** Entries pinned at `now` (by holds, CONs in flight or live strict dedup entries). */
export function peersPinned(now: u32): i32 {
  let count = 0;
  for (let peer = 0; peer < capacity; peer++) {
    const e = peerEntry(peer);
    if ((load<u8>(e, FLAGS) & USED) != 0 && !evictable(e, now)) count++;
  }
  return count;
}

/** The host holds (or lets go of) an entry: an observation or a pending separate response lives on it. */
export function peerHold(peer: i32, delta: i32): void {
  if (peer < 0 || peer >= capacity) return;
  const e = peerEntry(peer);
  const holds = max(<i32>load<u16>(e, HOLDS) + delta, 0);
  store<u16>(e, <u16>min(holds, 0xffff), HOLDS);
  if (holds == 0) unpinned();
}

/** A CON to the peer went out (+1) or ended (-1). */
export function peerInFlight(peer: i32, delta: i32): void {
  const e = peerEntry(peer);
  const count = max(<i32>load<u16>(e, IN_FLIGHT) + delta, 0);
  store<u16>(e, <u16>count, IN_FLIGHT);
  if (count == 0) unpinned();
}

/** A strict dedup entry of the peer lives until `expires`. */
export function peerLockUntil(peer: i32, expires: u32): void {
  const e = peerEntry(peer);
  if (earlier(load<u32>(e, LOCKED_UNTIL), expires)) store<u32>(e, expires, LOCKED_UNTIL);
}

// ---- RFC 7252 §4.7: to a peer that does not respond, no more than PROBING_RATE on average

/**
 * Sets PROBING_RATE (bytes per 1,000 s, so fractions of a byte per second can be had) and how long a
 * peer may stay silent before it counts as not responding (ms). Hosts that never call it get 1 byte/s
 * and 45 s (MAX_TRANSMIT_SPAN with the RFC's parameters).
 */
export function probingInit(bytesPerKilosecond: u32, quietAfterMs: u32): void {
  probingRate = max(bytesPerKilosecond, 1);
  quietAfter = quietAfterMs;
}

/** A datagram came from the peer: it responds, so nothing it was sent before counts against it. */
export function peerHeard(peer: i32, now: u32): void {
  const e = peerEntry(peer);
  store<u32>(e, now, HEARD_AT);
  store<u32>(e, now, PACED_UNTIL);
}

@inline function quiet(e: usize, now: u32): bool {
  return now - load<u32>(e, HEARD_AT) >= quietAfter;
}

/** Whether the peer has sent nothing for quietAfter ms: it has not answered recently (RFC 7252 §4.7). */
export function peerQuiet(peer: i32, now: u32): bool {
  if (peer < 0 || peer >= capacity) return false;
  return quiet(peerEntry(peer), now);
}

/** Ms until the next datagram may go to the peer: 0 unless it is quiet and PROBING_RATE says wait. */
export function peerSendDelay(peer: i32, now: u32): i32 {
  if (peer < 0 || peer >= capacity) return 0;
  const e = peerEntry(peer);
  if (!quiet(e, now)) return 0;
  const wait = <i32>(load<u32>(e, PACED_UNTIL) - now);
  return wait > 0 ? wait : 0;
}

/**
 * `bytes` went to the peer. While it is quiet they push its next send back by bytes / PROBING_RATE
 * (after any earlier debt: the average stays within the rate even when retransmissions, which keep
 * their own schedule, go out sooner).
 */
export function peerSent(peer: i32, bytes: u32, now: u32): void {
  if (peer < 0 || peer >= capacity) return;
  const e = peerEntry(peer);
  if (!quiet(e, now)) return;
  const paced = load<u32>(e, PACED_UNTIL);
  const start = earlier(paced, now) ? now : paced;
  const cost = min(<u64>bytes * 1000000 / <u64>probingRate, <u64>0x3fffffff);
  store<u32>(e, start + <u32>cost, PACED_UNTIL);
}

// The strict list's head, tail and count live in the peer entry; dedup.ts links them.
export function strictHead(peer: i32): i32 {
  return load<i32>(peerEntry(peer), STRICT_HEAD);
}
export function strictTail(peer: i32): i32 {
  return load<i32>(peerEntry(peer), STRICT_TAIL);
}
export function strictCount(peer: i32): i32 {
  return load<i32>(peerEntry(peer), STRICT_COUNT);
}
export function setStrictList(peer: i32, head: i32, tail: i32, count: i32): void {
  const e = peerEntry(peer);
  store<i32>(e, head, STRICT_HEAD);
  store<i32>(e, tail, STRICT_TAIL);
  store<i32>(e, count, STRICT_COUNT);
}

// ---- the safe window: the peer's last few safe messages (RFC 7252 §4.5 lets idempotent ones be relaxed)

@inline function safeAt(peer: i32, i: i32): usize {
  return peerEntry(peer) + WINDOWS + <usize>i * SAFE_SIZE;
}

/** The safe-window handle of (peer, Message ID) if it is live at `now`, else -1. */
export function safeFind(peer: i32, messageId: u32, now: u32): i32 {
  for (let i = 0; i < safeWindow; i++) {
    const s = safeAt(peer, i);
    if (load<u16>(s, 2) != 0 && <u32>load<u16>(s) == messageId && earlier(now, load<u32>(s, 4))) {
      return peer * safeWindow + i;
    }
  }
  return -1;
}

/** Records a safe message over the peer's oldest one; returns its handle. */
export function safeInsert(peer: i32, messageId: u32, expires: u32): i32 {
  const e = peerEntry(peer);
  const i = <i32>load<u8>(e, SAFE_CURSOR);
  store<u8>(e, <u8>(i + 1 == safeWindow ? 0 : i + 1), SAFE_CURSOR);
  const s = safeAt(peer, i);
  store<u16>(s, <u16>messageId);
  store<u16>(s, 1, 2);
  store<u32>(s, expires, 4);
  return peer * safeWindow + i;
}

// ---- recent NONs this endpoint sent the peer (RFC 7641 §3.6: an RST to one names its observation)

@inline function nonAt(peer: i32, i: i32): usize {
  return peerEntry(peer) + WINDOWS + <usize>safeWindow * SAFE_SIZE + <usize>i * NON_SIZE;
}

/** Remembers a NON sent to the peer until `expires`; returns its handle (the oldest one's is reused). */
export function rememberNon(peer: i32, messageId: u32, expires: u32): i32 {
  if (peer < 0 || peer >= capacity || recentNons == 0) return -1;
  const e = peerEntry(peer);
  const i = <i32>load<u8>(e, NON_CURSOR);
  store<u8>(e, <u8>(i + 1 == recentNons ? 0 : i + 1), NON_CURSOR);
  const n = nonAt(peer, i);
  store<u16>(n, <u16>messageId);
  store<u16>(n, 1, 2);
  store<u32>(n, expires, 4);
  return peer * recentNons + i;
}

/** The handle of a live recent NON (peer, Message ID), or -1. */
export function nonFind(peer: i32, messageId: u32, now: u32): i32 {
  for (let i = 0; i < recentNons; i++) {
    const n = nonAt(peer, i);
    if (load<u16>(n, 2) != 0 && <u32>load<u16>(n) == messageId && earlier(now, load<u32>(n, 4))) {
      return peer * recentNons + i;
    }
  }
  return -1;
}

/** Forgets a recent NON (its RST was handled). */
export function nonForget(handle: i32): void {
  store<u16>(nonAt(handle / recentNons, handle % recentNons), 0, 2);
}

/** The peer's next Message ID; the caller checks it is free. */
export function takeMessageId(peer: i32): u32 {
  const e = peerEntry(peer);
  const messageId = <u32>load<u16>(e, NEXT_MESSAGE_ID);
  store<u16>(e, <u16>(messageId + 1), NEXT_MESSAGE_ID);
  return messageId;
}
