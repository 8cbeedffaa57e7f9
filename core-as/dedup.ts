// RFC 7252 §4.5 duplicate detection: which (peer, Message ID) pairs arrived
// within EXCHANGE_LIFETIME (CON) or NON_LIFETIME (NON). The host keeps what it
// answered in a parallel array by slot, so a duplicate CON gets the same reply.
// The table is a ring of fixed size: when full, the oldest entry is evicted even
// if its lifetime has not ended, which bounds memory under floods.
import { indexFind, indexInsert, indexRemove, powerOfTwoAtLeast, reserve } from "./tables";

const STRIDE: usize = 12;
const PEER = 0;
const MESSAGE_ID = 4;
const EXPIRES = 8;

let capacity: i32 = 0;
let entries: usize = 0;
let index: usize = 0;
let mask: u32 = 0;
let cursor: i32 = 0;
let filled: i32 = 0;

/** Sizes the table for `slots` remembered messages; call once before dedupCheck. */
export function dedupInit(slots: i32): void {
  capacity = slots;
  entries = reserve(<usize>slots * STRIDE);
  mask = powerOfTwoAtLeast(<u32>slots * 2) - 1;
  index = reserve(<usize>(mask + 1) << 2);
}

/**
 * Records a received (peer, Message ID). Returns its slot (≥ 0) when it is new
 * (or its earlier record has expired), or -(slot + 1) when it is a duplicate
 * still within its lifetime. `lifetime` is in ms from `now`.
 */
export function dedupCheck(peer: u32, messageId: u32, now: u32, lifetime: u32): i32 {
  let slot = indexFind(index, mask, entries, STRIDE, peer, messageId);
  if (slot >= 0) {
    const e = entries + <usize>slot * STRIDE;
    if (<i32>(now - load<u32>(e, EXPIRES)) < 0) return -(slot + 1);
    store<u32>(e, now + lifetime, EXPIRES);
    return slot;
  }
  slot = cursor;
  cursor = cursor + 1 == capacity ? 0 : cursor + 1;
  if (slot < filled) indexRemove(index, mask, entries, STRIDE, slot);
  else filled++;
  const e = entries + <usize>slot * STRIDE;
  store<u32>(e, peer, PEER);
  store<u32>(e, messageId, MESSAGE_ID);
  store<u32>(e, now + lifetime, EXPIRES);
  indexInsert(index, mask, slot, peer, messageId);
  return slot;
}
