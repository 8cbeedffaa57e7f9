/**
 * The replies the endpoint keeps for duplicates (RFC 7252 §4.5), by dedup handle. Each is kept as a
 * one-byte string on V8's heap: a Uint8Array of its own costs Deno a backing store (about 450 bytes for a
 * 40-byte reply, measured), a view into a shared slab keeps the whole slab alive, and a string of the same
 * bytes costs their length plus a small header. Duplicates are rare, so turning a reply back into bytes
 * on the way out costs little.
 * @module
 */
import { allocateBytes } from "../bytes.ts";

/**
 * Kept replies.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Replies } from "./replies.ts";
 * const replies = new Replies();
 * replies.keep(7, Uint8Array.of(0x60, 0x45, 0x12, 0x34));
 * assert.deepEqual(replies.get(7), Uint8Array.of(0x60, 0x45, 0x12, 0x34));
 * replies.forget(7);
 * assert.equal(replies.get(7), undefined);
 * assert.equal(replies.size, 0);
 * ```
 */
export class Replies {
  readonly #kept: (string | undefined)[] = [];
  #size = 0;

  /** Replies kept. */
  get size(): number {
    return this.#size;
  }

  /** Keeps a copy of `bytes` under `handle`, in place of what it held. */
  keep(handle: number, bytes: Uint8Array): void {
    if (this.#kept[handle] === undefined) this.#size++;
    this.#kept[handle] = String.fromCharCode.apply(null, bytes as unknown as number[]);
  }

  /** The reply kept under `handle`, as bytes of a short-lived view. */
  get(handle: number): Uint8Array | undefined {
    const kept = this.#kept[handle];
    if (kept === undefined) return undefined;
    const bytes = allocateBytes(kept.length);
    for (let i = 0; i < kept.length; i++) bytes[i] = kept.charCodeAt(i);
    return bytes;
  }

  /** Drops the reply under `handle`, if any. */
  forget(handle: number): void {
    if (this.#kept[handle] === undefined) return;
    this.#kept[handle] = undefined;
    this.#size--;
  }
}
