/**
 * Text from the network made safe to show on a terminal: a payload may carry
 * escape sequences that move the cursor, rewrite the title, recolour or erase
 * what is already shown, or reorder it with bidirectional controls.
 * @module
 */

/**
 * What is escaped: C0 controls but for tab and line feed (U+0000–U+001F, so ESC and every sequence it
 * starts), DEL and C1 controls (U+007F–U+009F, CSI U+009B among them), the line and paragraph separators
 * U+2028 and U+2029, and the bidirectional controls ALM (U+061C), LRM and RLM (U+200E, U+200F), the
 * embeddings and overrides (U+202A–U+202E) and the isolates (U+2066–U+2069). All are in the BMP, so
 * UTF-16 code units are code points here.
 */
function isControl(unit: number): boolean {
  return (unit <= 0x1f && unit !== 0x09 && unit !== 0x0a) || (unit >= 0x7f && unit <= 0x9f) ||
    unit === 0x061c || unit === 0x200e || unit === 0x200f || (unit >= 0x2028 && unit <= 0x202e) ||
    (unit >= 0x2066 && unit <= 0x2069);
}

/**
 * `text` with every control character written as `\u{…}` (its code point in hex), so that printing it
 * shows the characters instead of obeying them. Tab and line feed are kept, since payloads are often
 * multi-line text; everything else passes through unchanged.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeControls } from "./escape_text.ts";
 * assert.equal(escapeControls("22.5\x1b[2J\x1b]0;owned\x07"), "22.5\\u{1b}[2J\\u{1b}]0;owned\\u{7}");
 * assert.equal(escapeControls("a\u202eb\u2028c\x9b"), "a\\u{202e}b\\u{2028}c\\u{9b}");
 * assert.equal(escapeControls("line 1\n\tline 2 °C"), "line 1\n\tline 2 °C");
 * ```
 */
export function escapeControls(text: string): string {
  let escaped = "";
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (!isControl(unit)) continue;
    escaped += `${text.slice(from, i)}\\u{${unit.toString(16)}}`;
    from = i + 1;
  }
  return from === 0 ? text : escaped + text.slice(from);
}
