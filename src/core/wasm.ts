/**
 * The codec's instance of core.wasm: typed views of its shared area (see
 * core-as/layout.ts) and its exported functions. Endpoints create their own
 * instances for their tables (exchange_core.ts).
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
}

// Only the source-phase import is used, also here: Deno failed to resolve "./core.wasm" when the same
// file was imported both as a module instance and as a module source in one graph.
const core = new WebAssembly.Instance(coreModule).exports as unknown as CoreExports;
const base = core.sharedBase();
// This instance never grows its memory (no tables are sized in it), so views made once stay valid.
const buffer = core.memory.buffer;

/** The core's exported functions. */
export const wasm: CoreExports = core;
/** All of linear memory, for copying datagrams in and out. */
export const memoryBytes: Uint8Array = new Uint8Array(buffer);
/** Header slots (i32), indexed by the SLOT_* constants. */
export const slots: Int32Array = new Int32Array(buffer, base + HEADER_OFFSET, HEADER_SLOTS);
/** Option index: four u16 per option (number, header offset, value offset, value length). */
export const optionEntries: Uint16Array = new Uint16Array(
  buffer,
  base + OPTIONS_OFFSET,
  (MAX_OPTIONS * OPTION_ENTRY_SIZE) / 2,
);
/** Absolute address of the receive area. */
export const rxAddress: number = base + RX_OFFSET;
/** Absolute address of the encode stage. */
export const stageAddress: number = base + STAGE_OFFSET;
/** Absolute address of the encode output. */
export const txAddress: number = base + TX_OFFSET;
