// The one static area the core shares with its host; see layout.ts.
import { HEADER_OFFSET, SHARED_SIZE } from "./layout";

/** Start of the shared area in linear memory. */
export const SHARED: usize = memory.data(SHARED_SIZE, 16);

@inline export function slot(index: i32): usize {
  return SHARED + HEADER_OFFSET + (<usize>index << 2);
}

@inline export function getSlot(index: i32): i32 {
  return load<i32>(slot(index));
}

@inline export function setSlot(index: i32, value: i32): void {
  store<i32>(slot(index), value);
}
