// Tables sized once, at start-up, by the host: the firmware asks for a few
// hundred entries, an edge server for tens of thousands. They are carved from
// linear memory above the static data and never freed; nothing is allocated
// per message.

let top: usize = 0;

/**
 * Reserves `bytes` of zeroed linear memory, growing the memory if needed; returns its address. Nothing
 * writes above the static data before this, grown pages come zeroed (WebAssembly's memory.grow) and no
 * region is handed out twice, so the memory is zero already: filling it would only make every page of
 * the tables resident at start, where an edge server's tables (tens of thousands of entries, MiBs) are
 * mostly untouched until that many peers come.
 */
export function reserve(bytes: usize): usize {
  if (top == 0) top = (__heap_base + 15) & ~15;
  const start = top;
  top = (top + bytes + 15) & ~15;
  const pagesNeeded = <i32>((top + 0xffff) >> 16);
  const pagesHave = memory.size();
  if (pagesNeeded > pagesHave && memory.grow(pagesNeeded - pagesHave) < 0) unreachable();
  return start;
}

/** Smallest power of two ≥ n (n ≥ 1). */
export function powerOfTwoAtLeast(n: u32): u32 {
  return n <= 1 ? 1 : <u32>1 << (32 - clz(n - 1));
}

// Open-addressing index from (peer, Message ID) to a table slot, shared by the
// retransmission table and the deduplication table. Each table keeps the peer at
// byte 0 and the Message ID at byte 4 of its entries. Buckets hold slot + 1 (0 = empty);
// removal shifts later entries back instead of leaving tombstones, so lookups stay short.

@inline function home(peer: u32, messageId: u32, mask: u32): u32 {
  let h = peer * 0x9e3779b1 ^ messageId * 0x85ebca6b;
  h ^= h >> 15;
  return h & mask;
}

/** The slot holding (peer, messageId), or -1. */
export function indexFind(index: usize, mask: u32, entries: usize, stride: usize, peer: u32, messageId: u32): i32 {
  let bucket = home(peer, messageId, mask);
  while (true) {
    const held = load<u32>(index + (<usize>bucket << 2));
    if (held == 0) return -1;
    const entry = entries + <usize>(held - 1) * stride;
    if (load<u32>(entry) == peer && load<u32>(entry, 4) == messageId) return <i32>(held - 1);
    bucket = (bucket + 1) & mask;
  }
}

/** Adds slot (whose entry already holds its peer and Message ID) to the index. */
export function indexInsert(index: usize, mask: u32, slot: i32, peer: u32, messageId: u32): void {
  let bucket = home(peer, messageId, mask);
  while (load<u32>(index + (<usize>bucket << 2)) != 0) bucket = (bucket + 1) & mask;
  store<u32>(index + (<usize>bucket << 2), <u32>slot + 1);
}

/** Removes slot from the index (backward-shift deletion). */
export function indexRemove(index: usize, mask: u32, entries: usize, stride: usize, slot: i32): void {
  const entry = entries + <usize>slot * stride;
  let hole = home(load<u32>(entry), load<u32>(entry, 4), mask);
  while (load<u32>(index + (<usize>hole << 2)) != <u32>slot + 1) hole = (hole + 1) & mask;
  let next = (hole + 1) & mask;
  while (true) {
    const held = load<u32>(index + (<usize>next << 2));
    if (held == 0) break;
    const moved = entries + <usize>(held - 1) * stride;
    const wanted = home(load<u32>(moved), load<u32>(moved, 4), mask);
    // The entry at `next` may fill the hole only if its home bucket is not cyclically inside (hole, next].
    const fits = hole <= next ? (wanted <= hole || wanted > next) : (wanted <= hole && wanted > next);
    if (fits) {
      store<u32>(index + (<usize>hole << 2), held);
      hole = next;
    }
    next = (next + 1) & mask;
  }
  store<u32>(index + (<usize>hole << 2), 0);
}
