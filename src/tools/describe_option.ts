/** Turning option values into what a person or a JSON consumer reads. */
import { contentFormatName } from "../message/content_format.ts";
import { optionInfo, OptionNumber } from "../message/option.ts";
import { blockSize, decodeBlock, decodeString, decodeUint, isUtf8 } from "../message/option_value.ts";
import { bytesToHex } from "./hex.ts";
import { printable } from "./printable.ts";

/**
 * An option value as JSON: text for string options, a number for uint
 * options, "" for empty ones, hex for opaque and unknown ones.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionValueJson } from "./describe_option.ts";
 * assert.equal(optionValueJson(12, Uint8Array.of(50)), 50); // Content-Format is a uint
 * assert.equal(optionValueJson(11, Uint8Array.of(0x61)), "a"); // Uri-Path is a string
 * ```
 */
export function optionValueJson(number: number, value: Uint8Array): string | number {
  switch (optionInfo(number)?.format) {
    case "uint":
      return decodeUint(value);
    case "string":
      return isUtf8(value) ? decodeString(value) : bytesToHex(value);
    case "empty":
      return "";
    default:
      return bytesToHex(value);
  }
}

/**
 * An option value for people: quoted text (controls escaped, see
 * printable), numbers with their meaning (Content-Format names, Block
 * NUM/M/size), 0x-hex for opaque bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeOptionValue } from "./describe_option.ts";
 * assert.equal(describeOptionValue(23, Uint8Array.of(0x2e)), "NUM 2, M 1, SZX 6 (1024 bytes)"); // Block2
 * ```
 */
export function describeOptionValue(number: number, value: Uint8Array): string {
  const json = optionValueJson(number, value);
  if (number === OptionNumber.Block1 || number === OptionNumber.Block2) {
    const block = decodeBlock(value);
    return `NUM ${block.num}, M ${block.more ? 1 : 0}, SZX ${block.szx} (${blockSize(block.szx)} bytes)`;
  }
  if (number === OptionNumber.ContentFormat || number === OptionNumber.Accept) {
    const name = contentFormatName(json as number);
    return name ? `${json} (${name})` : String(json);
  }
  if (typeof json === "number") return String(json);
  const format = optionInfo(number)?.format;
  if (format === "string" && isUtf8(value)) return printable(JSON.stringify(json));
  if (format === "empty") return "(empty)";
  return value.length === 0 ? "(empty)" : `0x${json}`;
}
