// printable(text, { keepLines: true }): what a server-sent payload can no longer do to a terminal.
import assert from "node:assert/strict";
import { printable } from "../src/tools/printable.ts";

const escapeControls = (text: string) => printable(text, { keepLines: true });

/** The code points that must come out as \u{…}: C0 but TAB and LF, DEL, C1, U+2028/2029, bidi controls, U+FEFF. */
function mustEscape(codePoint: number): boolean {
  return (codePoint < 0x20 && codePoint !== 0x09 && codePoint !== 0x0a) ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    [0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e].includes(codePoint) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069) || codePoint === 0xfeff;
}

Deno.test("printable, keeping lines: every code point, escaped exactly when it is a control", () => {
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue; // surrogates are not characters
    const character = String.fromCodePoint(codePoint);
    const expected = mustEscape(codePoint) ? `\\u{${codePoint.toString(16)}}` : character;
    if (escapeControls(character) !== expected) {
      assert.fail(
        `U+${codePoint.toString(16).padStart(4, "0")}: got ${JSON.stringify(escapeControls(character))}`,
      );
    }
  }
});

Deno.test("printable, keeping lines: escape sequences a hostile payload carries are shown, not obeyed", () => {
  const cases: [string, string][] = [
    ["\x1b[2J\x1b[H", "\\u{1b}[2J\\u{1b}[H"], // clear the screen, cursor home
    ["\x1b]0;pwned\x07", "\\u{1b}]0;pwned\\u{7}"], // set the window title
    [
      "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\",
      "\\u{1b}]8;;http://evil/\\u{1b}\\click\\u{1b}]8;;\\u{1b}\\",
    ],
    ["\x9b31m", "\\u{9b}31m"], // 8-bit CSI
    ["ok\rFAKE", "ok\\u{d}FAKE"], // carriage return overwriting the line
    ["22.5\x08\x08\x0899", "22.5\\u{8}\\u{8}\\u{8}99"], // backspaces
    ["if (a) {\u202e } \u2066// admin\u2069", "if (a) {\\u{202e} } \\u{2066}// admin\\u{2069}"], // Trojan Source
    ["one\u2028two\u2029", "one\\u{2028}two\\u{2029}"],
  ];
  for (const [payload, shown] of cases) assert.equal(escapeControls(payload), shown);
});

Deno.test("printable, keeping lines: ordinary text is unchanged, line feeds and tabs included", () => {
  const text = "Temperature\t22.5 °C\nЖ 漢字 👋🏽 e\u0301 ا\\u{1b} literal\n";
  assert.equal(escapeControls(text), text);
  assert.equal(escapeControls(""), "");
});
