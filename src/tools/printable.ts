/** Peer-controlled text made safe to print on one line of a log or terminal. */

// C0 controls and DEL, C1 controls (a terminal takes U+009B as CSI), the line and paragraph separators, the
// bidi controls that reorder what follows them (Unicode UAX #9: U+061C, U+200E-200F, U+202A-202E,
// U+2066-2069) and U+FEFF, which shows as nothing.
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;
// The same but for tab and line feed, for multi-line text such as a payload shown on a terminal.
const UNPRINTABLE_KEEPING_LINES =
  // deno-lint-ignore no-control-regex -- as above
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/**
 * `text` with every control character, line or paragraph separator, bidi control and U+FEFF written as
 * `\u{…}` (hex code point), so a line shows what a peer sent and cannot break, recolour or reorder itself.
 * With `keepLines`, tab and line feed stay (a multi-line payload on a terminal).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printable } from "./printable.ts";
 * assert.equal(printable("led\n2.04 Changed"), "led\\u{a}2.04 Changed");
 * assert.equal(printable("\u202etxt.exe"), "\\u{202e}txt.exe");
 * assert.equal(printable("22.5 °C"), "22.5 °C");
 * assert.equal(printable("line 1\n\tline 2\x1b[2J", { keepLines: true }), "line 1\n\tline 2\\u{1b}[2J");
 * ```
 */
export function printable(text: string, options: { keepLines?: boolean } = {}): string {
  const pattern = options.keepLines ? UNPRINTABLE_KEEPING_LINES : UNPRINTABLE;
  return text.replace(pattern, (char) => `\\u{${char.charCodeAt(0).toString(16)}}`);
}
