/** Content-Format numbers (IANA CoAP Content-Formats registry), the common ones. */
export const ContentFormat = {
  TextPlain: 0,
  LinkFormat: 40,
  Xml: 41,
  OctetStream: 42,
  Exi: 47,
  Json: 50,
  JsonPatch: 51,
  MergePatch: 52,
  Cbor: 60,
  Cwt: 61,
  SenmlJson: 110,
  SenmlCbor: 112,
} as const;

const MEDIA_TYPES: Record<number, string> = {
  0: "text/plain;charset=utf-8",
  40: "application/link-format",
  41: "application/xml",
  42: "application/octet-stream",
  47: "application/exi",
  50: "application/json",
  51: "application/json-patch+json",
  52: "application/merge-patch+json",
  60: "application/cbor",
  61: "application/cwt",
  110: "application/senml+json",
  112: "application/senml+cbor",
};

/**
 * Media type of a Content-Format number, if registered here.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ContentFormat, contentFormatName } from "../mod.ts";
 * assert.equal(contentFormatName(ContentFormat.Json), "application/json"); // 50
 * ```
 */
export function contentFormatName(format: number): string | undefined {
  return MEDIA_TYPES[format];
}
