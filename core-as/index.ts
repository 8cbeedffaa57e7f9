// core.wasm entry: everything a host may call. Imports nothing (built with
// --runtime stub --use abort=), so the firmware can link it as is.
import { SHARED } from "./shared";

/** Address of the shared area described in layout.ts. */
export function sharedBase(): usize {
  return SHARED;
}

export { decode, encode, findOption } from "./codec";
export {
  blockMore, blockNum, blockSize, blockSzx, blockValue, optionIsCritical, optionIsNoCacheKey,
  optionIsUnsafe, readUint, uintLength, writeUint,
} from "./option_value";
export {
  cancel, due, nextDeadline, pendingCount, randomSeed, rekey, retransmissionsOf, schedule,
} from "./retransmit";
export { allocateMessageId, messageLayerInit, peerFor, receive, recordNon } from "./message_layer";
export { peerCount, peerHold, peerQuiet, peerSendDelay, peerSent, peersPinned, probingInit } from "./peers";
export { strictEntries } from "./dedup";
