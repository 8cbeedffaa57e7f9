/**
 * The byte-by-byte view of a message the lab chapter teaches: each header
 * field with its bits, the token, every option's nibbles, extension bytes,
 * number, name and value, the payload marker and the payload.
 * @module
 */
import { codeName, codeString } from "../message/code.ts";
import { decodeWithLayout } from "../message/codec.ts";
import { isCritical, isNoCacheKey, isUnsafe, optionName } from "../message/option.ts";
import { isUtf8 } from "../message/option_value.ts";
import { typeName } from "../message/type.ts";
import { describeOptionValue } from "./describe_option.ts";
import { bytesToHex } from "./hex.ts";
import { printable } from "./printable.ts";

const HEX_SHOWN = 8;
const PAYLOAD_PREVIEW = 64;

const bits = (byte: number, groups: number[]) => {
  const text = byte.toString(2).padStart(8, "0");
  const parts: string[] = [];
  let at = 0;
  for (const size of groups) parts.push(text.slice(at, at += size));
  return parts.join(" ");
};

function row(bytes: Uint8Array, from: number, length: number, bitText: string, meaning: string): string {
  const span = length <= 1 ? String(from) : `${from}-${from + length - 1}`;
  const shown = bytesToHex(bytes.subarray(from, from + Math.min(length, HEX_SHOWN)), " ");
  const hex = length > HEX_SHOWN ? shown + " …" : shown;
  return `${span.padEnd(9)} ${hex.padEnd(26)} ${bitText.padEnd(11)} ${meaning}`;
}

function properties(number: number): string {
  const flags = [
    isCritical(number) ? "critical" : "elective",
    isUnsafe(number) ? "unsafe" : "safe-to-forward",
  ];
  if (isNoCacheKey(number)) flags.push("NoCacheKey");
  return flags.join(", ");
}

/** One extension field of an option header: its bytes and the value it stands for. */
function extension(bytes: Uint8Array, at: number, nibble: number): { size: number; value: number } {
  if (nibble === 13) return { size: 1, value: 13 + bytes[at] };
  if (nibble === 14) return { size: 2, value: 269 + ((bytes[at] << 8) | bytes[at + 1]) };
  return { size: 0, value: nibble };
}

/**
 * Annotated lines for a datagram; throws CoapFormatError like decode().
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { annotate } from "./annotate.ts";
 * import { hexToBytes } from "./hex.ts";
 * const lines = annotate(hexToBytes("40011234"));
 * assert.equal(lines[0], "CoAP message, 4 bytes");
 * assert.match(lines.at(-1)!, /Message ID 4660 \(0x1234\)/);
 * ```
 */
export function annotate(datagram: Uint8Array): string[] {
  const { message, optionHeaderOffsets } = decodeWithLayout(datagram);
  const lines = [
    `CoAP message, ${datagram.length} bytes`,
    "",
    `${"byte".padEnd(9)} ${"hex".padEnd(26)} ${"bits".padEnd(11)} meaning`,
    row(
      datagram,
      0,
      1,
      bits(datagram[0], [2, 2, 4]),
      `Ver 1 | T ${message.type} (${typeName(message.type)}) | TKL ${message.token.length}`,
    ),
    row(
      datagram,
      1,
      1,
      bits(datagram[1], [3, 5]),
      `Code ${codeString(message.code)} ${codeName(message.code)}`,
    ),
    row(
      datagram,
      2,
      2,
      "",
      `Message ID ${message.messageId} (0x${message.messageId.toString(16).padStart(4, "0")})`,
    ),
  ];
  if (message.token.length > 0) {
    lines.push(row(datagram, 4, message.token.length, "", `Token ${bytesToHex(message.token)}`));
  }
  let previous = 0;
  message.options.forEach((option, i) => {
    const at = optionHeaderOffsets[i];
    const header = datagram[at];
    const deltaNibble = header >> 4;
    const lengthNibble = header & 15;
    const delta = extension(datagram, at + 1, deltaNibble);
    const length = extension(datagram, at + 1 + delta.size, lengthNibble);
    const name = `#${option.number} ${optionName(option.number)}`;
    lines.push(
      row(
        datagram,
        at,
        1,
        bits(header, [4, 4]),
        `Option delta ${deltaNibble}${deltaNibble >= 13 ? " (extended)" : ""}, length ${lengthNibble}${
          lengthNibble >= 13 ? " (extended)" : ""
        }${
          delta.size === 0 ? ` → ${previous} + ${delta.value} = ${name} (${properties(option.number)})` : ""
        }`,
      ),
    );
    if (delta.size > 0) {
      lines.push(
        row(
          datagram,
          at + 1,
          delta.size,
          "",
          `delta extension: ${deltaNibble === 13 ? 13 : 269} + ${
            delta.value - (deltaNibble === 13 ? 13 : 269)
          } = ${delta.value} → ${previous} + ${delta.value} = ${name} (${properties(option.number)})`,
        ),
      );
    }
    if (length.size > 0) {
      lines.push(
        row(
          datagram,
          at + 1 + delta.size,
          length.size,
          "",
          `length extension: ${lengthNibble === 13 ? 13 : 269} + ${
            length.value - (lengthNibble === 13 ? 13 : 269)
          } = ${length.value} bytes`,
        ),
      );
    }
    const valueAt = at + 1 + delta.size + length.size;
    lines.push(
      option.value.length === 0
        ? `${"".padEnd(9)} ${"".padEnd(26)} ${"".padEnd(11)} value: ${
          describeOptionValue(option.number, option.value)
        }`
        : row(
          datagram,
          valueAt,
          option.value.length,
          "",
          `value: ${describeOptionValue(option.number, option.value)}`,
        ),
    );
    previous = option.number;
  });
  if (message.payload.length > 0) {
    const markerAt = datagram.length - message.payload.length - 1;
    lines.push(row(datagram, markerAt, 1, bits(0xff, [8]), "Payload marker"));
    const preview = isUtf8(message.payload)
      ? printable(JSON.stringify(new TextDecoder().decode(message.payload.subarray(0, PAYLOAD_PREVIEW)))) +
        (message.payload.length > PAYLOAD_PREVIEW ? " …" : "")
      : "(binary)";
    lines.push(
      row(
        datagram,
        markerAt + 1,
        message.payload.length,
        "",
        `Payload, ${message.payload.length} bytes: ${preview}`,
      ),
    );
  }
  return lines;
}
