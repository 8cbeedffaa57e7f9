/** Hex helpers for readable test vectors. */
import { bytesToHex, hexToBytes } from "../src/tools/hex.ts";

/** Bytes from hex written with spaces for readability. */
export const bytes = (hex: string): Uint8Array => hexToBytes(hex);
/** Lowercase hex of bytes. */
export const hex = (data: Uint8Array): string => bytesToHex(data);
