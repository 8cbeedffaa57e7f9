/**
 * Instances of core.wasm and typed views of their shared area (see
 * core-as/layout.ts). The codec uses one instance of its own; each endpoint
 * makes another for its message-layer tables (message_layer_core.ts) and
 * decodes in it, so a received datagram crosses into WASM once.
 * @module
 */
import { coreModule } from "./core_module.js";
import {
  HEADER_OFFSET,
  HEADER_SLOTS,
  MAX_OPTIONS,
  OPTION_ENTRY_SIZE,
  OPTIONS_OFFSET,
  RX_OFFSET,
  STAGE_OFFSET,
  TX_OFFSET,
} from "../../core-as/layout.ts";

/** The core's exports the host calls (core-as/index.ts). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  sharedBase(): number;
  decode(length: number): number;
  encode(): number;
  findOption(number: number, from: number): number;
  uintLength(value: number): number;
  writeUint(at: number, value: number): number;
  readUint(at: number, length: number): number;
  blockValue(num: number, more: number, szx: number): number;
  blockNum(value: number): number;
  blockMore(value: number): number;
  blockSzx(value: number): number;
  blockSize(szx: number): number;
  optionIsCritical(number: number): number;
  optionIsUnsafe(number: number): number;
  optionIsNoCacheKey(number: number): number;
  messageLayerInit(
    peers: number,
    safeWindow: number,
    recentNons: number,
    strictEntries: number,
    strictPerPeer: number,
    retransmitSlots: number,
    exchangeLifetime: number,
    nonLifetime: number,
  ): void;
  randomSeed(seed: number): void;
  receive(length: number, now: number): number;
  peerFor(now: number): number;
  allocateMessageId(peer: number, now: number): number;
  recordNon(peer: number, messageId: number, now: number): number;
  peerHold(peer: number, delta: number): void;
  peerCount(): number;
  peersPinned(now: number): number;
  probingInit(bytesPerKilosecond: number, quietAfter: number): void;
  peerQuiet(peer: number, now: number): number;
  peerSendDelay(peer: number, now: number): number;
  peerSent(peer: number, bytes: number, now: number): void;
  strictEntries(): number;
  schedule(
    peer: number,
    messageId: number,
    now: number,
    ackTimeout: number,
    factorMilli: number,
    max: number,
  ): number;
  cancel(slot: number, peer: number, messageId: number): number;
  rekey(slot: number, peer: number, oldMessageId: number, newMessageId: number): number;
  pendingCount(): number;
  nextDeadline(): number;
  retransmissionsOf(slot: number): number;
  due(now: number): number;
}

/** One instance's exports and views of its shared area; make it after the instance's tables are sized. */
export interface CoreViews {
  readonly wasm: CoreExports;
  /** All of linear memory, for copying datagrams in and out. */
  readonly bytes: Uint8Array;
  /** Header slots (i32), indexed by the SLOT_* constants. */
  readonly slots: Int32Array;
  /** Option index: four u16 per option (number, header offset, value offset, value length). */
  readonly optionEntries: Uint16Array;
  /** Absolute addresses of the receive area, the encode stage and the encode output. */
  readonly rx: number;
  readonly stage: number;
  readonly tx: number;
  readonly base: number;
}

/** A new instance of the core, with `init` run on it before the views are made (sizing tables grows memory). */
export function instantiateCore(init?: (wasm: CoreExports) => void): CoreViews {
  const wasm = new WebAssembly.Instance(coreModule).exports as unknown as CoreExports;
  init?.(wasm);
  const base = wasm.sharedBase();
  // Nothing grows the memory after init, so views made once stay valid.
  const buffer = wasm.memory.buffer;
  return {
    wasm,
    bytes: new Uint8Array(buffer),
    slots: new Int32Array(buffer, base + HEADER_OFFSET, HEADER_SLOTS),
    optionEntries: new Uint16Array(buffer, base + OPTIONS_OFFSET, (MAX_OPTIONS * OPTION_ENTRY_SIZE) / 2),
    rx: base + RX_OFFSET,
    stage: base + STAGE_OFFSET,
    tx: base + TX_OFFSET,
    base,
  };
}

/** The codec's own instance (no tables). */
export const codecCore: CoreViews = instantiateCore();
/** The codec instance's exported functions. */
export const wasm: CoreExports = codecCore.wasm;
/** The codec instance's linear memory. */
export const memoryBytes: Uint8Array = codecCore.bytes;
/** Absolute address of the codec instance's encode stage. */
export const stageAddress: number = codecCore.stage;
