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

/**
 * The Content-Format number a name stands for, as aiocoap-client takes them: the media type
 * ("application/json", "text/plain;charset=utf-8"), its subtype alone ("json", "link-format",
 * "senml+json"), or "text" and "text/plain" for 0; case and spaces around ";" do not matter.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contentFormatNumber } from "./content_format.ts";
 * assert.equal(contentFormatNumber("cbor"), 60);
 * assert.equal(contentFormatNumber("application/link-format"), 40);
 * assert.equal(contentFormatNumber("text/plain; charset=utf-8"), 0);
 * assert.equal(contentFormatNumber("image/png"), undefined);
 * ```
 */
export function contentFormatNumber(name: string): number | undefined {
  const wanted = name.trim().toLowerCase().replace(/\s*;\s*/g, ";");
  if (wanted === "text" || wanted === "text/plain") return ContentFormat.TextPlain;
  for (const [number, mediaType] of Object.entries(MEDIA_TYPES)) {
    if (wanted === mediaType || wanted === contentFormatShortName(Number(number))) return Number(number);
  }
  return undefined;
}

/**
 * The short name of a registered Content-Format: "text" for 0, else its media subtype ("json", "cbor",
 * "link-format", "senml+json"), as contentFormatNumber takes it.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { contentFormatShortName } from "./content_format.ts";
 * assert.equal(contentFormatShortName(0), "text");
 * assert.equal(contentFormatShortName(40), "link-format");
 * assert.equal(contentFormatShortName(11542), undefined);
 * ```
 */
export function contentFormatShortName(format: number): string | undefined {
  const mediaType = MEDIA_TYPES[format];
  if (mediaType === undefined) return undefined;
  return format === ContentFormat.TextPlain ? "text" : mediaType.slice(mediaType.indexOf("/") + 1);
}

/** The short names of every registered Content-Format, for a usage message. */
export function contentFormatShortNames(): string[] {
  return Object.keys(MEDIA_TYPES).map((format) => contentFormatShortName(Number(format))!);
}
