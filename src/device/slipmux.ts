/**
 * Slipmux (draft-bormann-t2trg-slipmux) on the Deno side of the device's
 * serial link: SLIP framing (RFC 1055) where the first byte of a frame tells
 * its type. The device sends IP packets (its CoAP traffic) and diagnostic
 * frames (its log lines).
 * @module
 */

const END = 0xc0;
const ESC = 0xdb;
const ESC_END = 0xdc;
const ESC_ESC = 0xdd;
const DIAGNOSTIC = 0x0a;
const CONFIGURATION = 0xa9;
/** Larger frames are dropped, as the device does: its buffer holds one 1500-byte packet. */
export const MAX_FRAME = 1500;

/** One received frame, by slipmux type. */
export type SlipmuxFrame =
  | { kind: "ip"; data: Uint8Array }
  | { kind: "diagnostic"; text: string }
  | { kind: "configuration"; data: Uint8Array }
  | { kind: "invalid"; reason: string };

/** Splits a byte stream into frames; keeps partial frames across calls. */
export class SlipmuxDecoder {
  #frame: number[] = [];
  #escaped = false;
  #broken: string | undefined;

  /** Feeds received bytes; returns the frames they completed. */
  push(bytes: Uint8Array): SlipmuxFrame[] {
    const frames: SlipmuxFrame[] = [];
    for (const byte of bytes) {
      if (byte === END) {
        const frame = this.#finish();
        if (frame) frames.push(frame);
        continue;
      }
      if (this.#broken) continue;
      let value = byte;
      if (this.#escaped) {
        this.#escaped = false;
        if (byte !== ESC_END && byte !== ESC_ESC) {
          this.#broken = `escape followed by 0x${byte.toString(16)}`;
          continue;
        }
        value = byte === ESC_END ? END : ESC;
      } else if (byte === ESC) {
        this.#escaped = true;
        continue;
      }
      if (this.#frame.length === MAX_FRAME) {
        this.#broken = `frame longer than ${MAX_FRAME} bytes`;
        continue;
      }
      this.#frame.push(value);
    }
    return frames;
  }

  #finish(): SlipmuxFrame | undefined {
    const bytes = Uint8Array.from(this.#frame);
    const broken = this.#broken ?? (this.#escaped ? "frame ends inside an escape" : undefined);
    this.#frame = [];
    this.#escaped = false;
    this.#broken = undefined;
    if (broken) return { kind: "invalid", reason: broken };
    if (bytes.length === 0) return undefined;
    const first = bytes[0];
    if (first === DIAGNOSTIC) {
      return { kind: "diagnostic", text: new TextDecoder().decode(bytes.subarray(1)) };
    }
    if (first === CONFIGURATION) return { kind: "configuration", data: bytes.subarray(1) };
    if (first >= 0x40 && first <= 0x7f) return { kind: "ip", data: bytes };
    return { kind: "invalid", reason: `unknown frame type 0x${first.toString(16)}` };
  }
}

/** SLIP-encodes one frame: a leading END flushes line noise, then escaped bytes, then END. */
function frame(type: number | undefined, body: Uint8Array): Uint8Array {
  const out: number[] = [END];
  if (type !== undefined) out.push(type);
  for (const byte of body) {
    if (byte === END) out.push(ESC, ESC_END);
    else if (byte === ESC) out.push(ESC, ESC_ESC);
    else out.push(byte);
  }
  out.push(END);
  return Uint8Array.from(out);
}

/** An IP packet as a slipmux frame (its version nibble is its type). */
export function encodeIpFrame(packet: Uint8Array): Uint8Array {
  return frame(undefined, packet);
}

/** A diagnostic text as a slipmux frame. */
export function encodeDiagnosticFrame(text: string): Uint8Array {
  return frame(DIAGNOSTIC, new TextEncoder().encode(text));
}
