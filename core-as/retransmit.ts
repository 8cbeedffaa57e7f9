// RFC 7252 §4.2 retransmission of Confirmable messages: a table of outstanding
// CONs keyed by (peer, Message ID), a min-heap of their deadlines, exponential
// back-off and give-up after MAX_RETRANSMIT. Time and randomness come in from
// the host, so a given clock and seed always give the same schedule.
import { EVENT_CAPACITY, EVENT_GIVE_UP, EVENT_RETRANSMIT, EVENT_SIZE, EVENTS_OFFSET, SCHEDULE_DUPLICATE, SCHEDULE_FULL } from "./layout";
import { peerInFlight } from "./peers";
import { SHARED } from "./shared";
import { indexFind, indexInsert, indexRemove, powerOfTwoAtLeast, reserve } from "./tables";

const STRIDE: usize = 24;
const PEER = 0;
const MESSAGE_ID = 4;
const DEADLINE = 8;
const TIMEOUT = 12;
const RETRANSMITS = 16; // u16
const MAX_RETRANSMIT = 18; // u16
const HEAP_POSITION = 20;

let entries: usize = 0;
let index: usize = 0;
let mask: u32 = 0;
let heap: usize = 0; // slots ordered by deadline
let heapSize: i32 = 0;
let freeSlots: usize = 0; // stack of released slots
let freeCount: i32 = 0;
// Slots from here up have never been used: taken in order, so the free stack needs no initialising pass
// and the table's untouched pages stay unmapped.
let fresh: i32 = 0;
let capacity: i32 = 0;

let randomState: u32 = 0x9e3779b9;

@inline function entry(slot: i32): usize {
  return entries + <usize>slot * STRIDE;
}

/** Wrap-safe "a is earlier than b" for millisecond clocks that roll over every 49 days. */
@inline function earlier(a: u32, b: u32): bool {
  return <i32>(a - b) < 0;
}

/** The core's seeded random source (initial timeouts, first Message IDs). */
export function nextRandom(): u32 {
  // xorshift32: enough to spread timeouts, and reproducible from the seed.
  let x = randomState;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  randomState = x;
  return x;
}

/** Sizes the table for `slots` outstanding CONs; call once before anything else. */
export function retransmitInit(slots: i32): void {
  entries = reserve(<usize>slots * STRIDE);
  mask = powerOfTwoAtLeast(<u32>slots * 2) - 1;
  index = reserve(<usize>(mask + 1) << 2);
  heap = reserve(<usize>slots << 2);
  freeSlots = reserve(<usize>slots << 2);
  freeCount = 0;
  fresh = 0;
  capacity = slots;
  heapSize = 0;
}

/** Seeds the random source for initial timeouts (0 is replaced, as xorshift would stay at 0). */
export function randomSeed(seed: u32): void {
  randomState = seed == 0 ? 0x9e3779b9 : seed;
}

@inline function deadlineOf(slot: i32): u32 {
  return load<u32>(entry(slot), DEADLINE);
}

@inline function place(position: i32, slot: i32): void {
  store<i32>(heap + (<usize>position << 2), slot);
  store<i32>(entry(slot), position, HEAP_POSITION);
}

@inline function heapAt(position: i32): i32 {
  return load<i32>(heap + (<usize>position << 2));
}

function siftUp(position: i32): void {
  const slot = heapAt(position);
  const deadline = deadlineOf(slot);
  while (position > 0) {
    const parent = (position - 1) >> 1;
    const parentSlot = heapAt(parent);
    if (!earlier(deadline, deadlineOf(parentSlot))) break;
    place(position, parentSlot);
    position = parent;
  }
  place(position, slot);
}

function siftDown(position: i32): void {
  const slot = heapAt(position);
  const deadline = deadlineOf(slot);
  while (true) {
    let child = position * 2 + 1;
    if (child >= heapSize) break;
    if (child + 1 < heapSize && earlier(deadlineOf(heapAt(child + 1)), deadlineOf(heapAt(child)))) child++;
    const childSlot = heapAt(child);
    if (!earlier(deadlineOf(childSlot), deadline)) break;
    place(position, childSlot);
    position = child;
  }
  place(position, slot);
}

function release(slot: i32): void {
  const position = load<i32>(entry(slot), HEAP_POSITION);
  heapSize--;
  if (position != heapSize) {
    // The last heap entry fills the gap, then moves whichever way its deadline demands.
    const moved = heapAt(heapSize);
    place(position, moved);
    siftDown(position);
    siftUp(load<i32>(entry(moved), HEAP_POSITION));
  }
  indexRemove(index, mask, entries, STRIDE, slot);
  store<i32>(freeSlots + (<usize>freeCount << 2), slot);
  freeCount++;
  peerInFlight(<i32>load<u32>(entry(slot), PEER), -1);
}

/** Whether a CON with that Message ID is outstanding to the peer. */
export function isOutstanding(peer: u32, messageId: u32): bool {
  return indexFind(index, mask, entries, STRIDE, peer, messageId) >= 0;
}

/**
 * Starts tracking a CON just sent to `peer` (a peer table entry), with the sending endpoint's
 * RFC 7252 §4.8 parameters: ACK_TIMEOUT in ms, ACK_RANDOM_FACTOR × 1000 and
 * MAX_RETRANSMIT. The first timeout is drawn from [ACK_TIMEOUT,
 * ACK_TIMEOUT × ACK_RANDOM_FACTOR]. Returns the slot, or SCHEDULE_FULL /
 * SCHEDULE_DUPLICATE (that Message ID is still outstanding to that peer).
 */
export function schedule(
  peer: u32,
  messageId: u32,
  now: u32,
  ackTimeout: u32,
  randomFactorMilli: u32,
  maxRetransmit: u32,
): i32 {
  if (indexFind(index, mask, entries, STRIDE, peer, messageId) >= 0) return SCHEDULE_DUPLICATE;
  let slot: i32;
  if (freeCount > 0) {
    freeCount--;
    slot = load<i32>(freeSlots + (<usize>freeCount << 2));
  } else if (fresh < capacity) {
    slot = fresh++;
  } else {
    return SCHEDULE_FULL;
  }
  const spread = randomFactorMilli > 1000 ? <u32>((<u64>ackTimeout * <u64>(randomFactorMilli - 1000)) / 1000) : 0;
  const timeout = ackTimeout + nextRandom() % (spread + 1);
  const e = entry(slot);
  store<u32>(e, peer, PEER);
  store<u32>(e, messageId, MESSAGE_ID);
  store<u32>(e, now + timeout, DEADLINE);
  store<u32>(e, timeout, TIMEOUT);
  store<u16>(e, 0, RETRANSMITS);
  store<u16>(e, <u16>maxRetransmit, MAX_RETRANSMIT);
  indexInsert(index, mask, slot, peer, messageId);
  place(heapSize, slot);
  heapSize++;
  siftUp(heapSize - 1);
  peerInFlight(<i32>peer, 1);
  return slot;
}

/** An ACK or RST for (peer, Message ID) arrived: stops tracking it. Returns its slot, or -1 if none matched. */
export function acknowledge(peer: u32, messageId: u32): i32 {
  const slot = indexFind(index, mask, entries, STRIDE, peer, messageId);
  if (slot >= 0) release(slot);
  return slot;
}

/** Stops retransmitting the CON in `slot` (its sender gave up on it); 1 if it was outstanding. */
export function cancel(slot: i32, peer: u32, messageId: u32): bool {
  const found = indexFind(index, mask, entries, STRIDE, peer, messageId);
  if (found != slot) return false;
  release(slot);
  return true;
}

/** Outstanding CONs. */
export function pendingCount(): i32 {
  return heapSize;
}

/** The earliest deadline; meaningful only while pendingCount() > 0. */
export function nextDeadline(): u32 {
  return deadlineOf(heapAt(0));
}

/** Retransmissions made so far for a slot. */
export function retransmissionsOf(slot: i32): u32 {
  return <u32>load<u16>(entry(slot), RETRANSMITS);
}

/**
 * Handles every deadline at or before `now`: a CON with retransmissions left
 * gets its timeout doubled and a RETRANSMIT event; one without gets a GIVE_UP
 * event and leaves the table. Events go to the shared events area; returns how
 * many (at most EVENT_CAPACITY; call again while it returns that many).
 */
export function due(now: u32): i32 {
  const events = SHARED + EVENTS_OFFSET;
  let count = 0;
  while (heapSize > 0 && count < EVENT_CAPACITY && !earlier(now, deadlineOf(heapAt(0)))) {
    const slot = heapAt(0);
    const e = entry(slot);
    const retransmits = <u32>load<u16>(e, RETRANSMITS);
    const out = events + <usize>count * EVENT_SIZE;
    store<i32>(out, slot);
    if (retransmits < <u32>load<u16>(e, MAX_RETRANSMIT)) {
      const timeout = load<u32>(e, TIMEOUT) * 2;
      store<u32>(e, timeout, TIMEOUT);
      store<u16>(e, <u16>(retransmits + 1), RETRANSMITS);
      store<u32>(e, now + timeout, DEADLINE);
      siftDown(0);
      store<i32>(out, EVENT_RETRANSMIT, 4);
    } else {
      release(slot);
      store<i32>(out, EVENT_GIVE_UP, 4);
    }
    count++;
  }
  return count;
}

/**
 * RFC 7641 §4.5.2: a newer notification takes over an outstanding CON's
 * place: same slot, deadline, timeout and retransmission count, under a new
 * Message ID. Returns 1, or 0 if `slot` no longer holds (peer, oldMessageId)
 * or the new ID is in use.
 */
export function rekey(slot: i32, peer: u32, oldMessageId: u32, newMessageId: u32): bool {
  if (indexFind(index, mask, entries, STRIDE, peer, oldMessageId) != slot) return false;
  if (indexFind(index, mask, entries, STRIDE, peer, newMessageId) >= 0) return false;
  indexRemove(index, mask, entries, STRIDE, slot);
  store<u32>(entry(slot), newMessageId, MESSAGE_ID);
  indexInsert(index, mask, slot, peer, newMessageId);
  return true;
}
