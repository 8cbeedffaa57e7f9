/**
 * The Block1 bodies being reassembled (RFC 7959 §2.5), bounded in count, in bytes per peer and in all, and
 * expiring a lifetime after their last block. Lookups are by key in a Map kept in order of last activity,
 * so finding an upload and expiring old ones cost O(1) however many there are.
 * @module
 */

/** One body being reassembled. */
export interface Upload {
  readonly key: string;
  readonly peerKey: string;
  readonly parts: Uint8Array[];
  /** Bytes so far. */
  received: number;
  lastActivity: number;
}

/** The bounds of a Block1Uploads. */
export interface Block1Limits {
  maxUploads: number;
  maxBytesPerPeer: number;
  maxBytes: number;
  /** Ms an upload is kept after its last block. */
  lifetime: number;
}

/** No room: retry after this many seconds (when the least recently active upload in the way expires). */
export interface NoRoom {
  readonly retryAfter: number;
}

interface PeerUploads {
  bytes: number;
  /** This peer's uploads, least recently active first. */
  readonly uploads: Map<string, Upload>;
}

/**
 * Unfinished Block1 uploads.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Block1Uploads } from "./block1_uploads.ts";
 * const limits = { maxUploads: 1, maxBytesPerPeer: 2048, maxBytes: 4096, lifetime: 1000 };
 * const uploads = new Block1Uploads(limits);
 * const upload = uploads.start("a /upload", "10.0.0.1:5683", 0);
 * assert.ok(!("retryAfter" in upload));
 * assert.deepEqual(uploads.start("b /upload", "10.0.0.2:5683", 10), { retryAfter: 1 }); // full
 * assert.equal(uploads.get("a /upload", 2000), undefined); // expired
 * ```
 */
export class Block1Uploads {
  readonly #limits: Block1Limits;
  /** Every upload, least recently active first. */
  readonly #uploads = new Map<string, Upload>();
  readonly #peers = new Map<string, PeerUploads>();
  #bytes = 0;

  constructor(limits: Block1Limits) {
    this.#limits = limits;
  }

  /** Uploads in progress. */
  get size(): number {
    return this.#uploads.size;
  }

  /** Bytes held by unfinished uploads. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The live upload under `key`, after dropping those idle for longer than the lifetime. */
  get(key: string, now: number): Upload | undefined {
    this.#expire(now);
    return this.#uploads.get(key);
  }

  /** A new, empty upload under `key` (which must not be in use), or when to retry if there are too many. */
  start(key: string, peerKey: string, now: number): Upload | NoRoom {
    this.#expire(now);
    if (this.#uploads.size >= this.#limits.maxUploads) return this.#noRoom(this.#uploads, now);
    const upload: Upload = { key, peerKey, parts: [], received: 0, lastActivity: now };
    this.#uploads.set(key, upload);
    let peer = this.#peers.get(peerKey);
    if (peer === undefined) {
      peer = { bytes: 0, uploads: new Map() };
      this.#peers.set(peerKey, peer);
    }
    peer.uploads.set(key, upload);
    return upload;
  }

  /** Adds a block's payload (a copy) to the upload, or says when to retry if a byte bound would be passed. */
  append(upload: Upload, payload: Uint8Array, now: number): NoRoom | undefined {
    const peer = this.#peers.get(upload.peerKey)!;
    if (peer.bytes + payload.length > this.#limits.maxBytesPerPeer) return this.#noRoom(peer.uploads, now);
    if (this.#bytes + payload.length > this.#limits.maxBytes) return this.#noRoom(this.#uploads, now);
    upload.parts.push(payload.slice());
    upload.received += payload.length;
    peer.bytes += payload.length;
    this.#bytes += payload.length;
    this.#touch(upload, peer, now);
    return undefined;
  }

  /** Ends an upload (finished, or abandoned on a gap or a size error). */
  delete(upload: Upload): void {
    if (this.#uploads.get(upload.key) !== upload) return;
    this.#uploads.delete(upload.key);
    const peer = this.#peers.get(upload.peerKey)!;
    peer.uploads.delete(upload.key);
    peer.bytes -= upload.received;
    this.#bytes -= upload.received;
    if (peer.uploads.size === 0) this.#peers.delete(upload.peerKey);
  }

  /** Moves the upload to the end of both activity orders. */
  #touch(upload: Upload, peer: PeerUploads, now: number): void {
    upload.lastActivity = now;
    this.#uploads.delete(upload.key);
    this.#uploads.set(upload.key, upload);
    peer.uploads.delete(upload.key);
    peer.uploads.set(upload.key, upload);
  }

  #expire(now: number): void {
    for (const upload of this.#uploads.values()) {
      if (now - upload.lastActivity <= this.#limits.lifetime) return;
      this.delete(upload);
    }
  }

  /** Seconds until the least recently active of `uploads` expires (Max-Age, RFC 7252 §5.9.3.4); ≥ 1. */
  #noRoom(uploads: Map<string, Upload>, now: number): NoRoom {
    const oldest = uploads.values().next().value;
    const until = oldest === undefined ? 0 : oldest.lastActivity + this.#limits.lifetime - now;
    return { retryAfter: Math.max(1, Math.ceil(until / 1000)) };
  }
}
