// core.wasm entry: everything a host may call. Imports nothing (built with
// --runtime stub --use abort=), so the firmware can link it as is.
import { SHARED } from "./shared";

/** Address of the shared area described in layout.ts. */
export function sharedBase(): usize {
  return SHARED;
}

export { decode, encode } from "./codec";
export {
  blockMore, blockNum, blockSize, blockSzx, blockValue, optionIsCritical, optionIsNoCacheKey,
  optionIsUnsafe, readUint, uintLength, writeUint,
} from "./option_value";
export {
  acknowledge, due, nextDeadline, pendingCount, randomSeed, rekey, retransmissionsOf, retransmitInit, schedule,
} from "./retransmit";
export { dedupCheck, dedupInit } from "./dedup";
