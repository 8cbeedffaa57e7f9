// checkOptions on messages built by hand, which need not be in option order as decoded ones are.
import assert from "node:assert/strict";
import { Code, decode, encodeString, encodeUint, type Message, OptionNumber } from "../src/mod.ts";
import { checkOptions } from "../src/server/option_checks.ts";

const get = (options: Message["options"]): Message => ({
  ...decode(Uint8Array.of(0x40, 0x01, 0, 1)),
  options,
});
const accept = { number: OptionNumber.Accept, value: encodeUint(50) };
const path = (segment: string) => ({ number: OptionNumber.UriPath, value: encodeString(segment) });

Deno.test("checkOptions: a repeat apart from its first occurrence is still a repeat", () => {
  // Accept (17) twice with a Uri-Path (11) between them: out of order, so the adjacent check alone misses it.
  const refused = checkOptions(get([accept, path("a"), accept]));
  assert.ok("refusal" in refused);
  assert.equal(refused.refusal.code, Code.BadOption);
});

Deno.test("checkOptions: options in order pass with path and query decoded, the message untouched", () => {
  const query = { number: OptionNumber.UriQuery, value: encodeString("k=v") };
  const message = get([path("a"), path("b"), query, accept]);
  const checked = checkOptions(message);
  assert.ok("message" in checked);
  assert.equal(checked.message, message);
  assert.deepEqual([checked.path, checked.query], [["a", "b"], ["k=v"]]);
});

Deno.test("checkOptions: an elective option repeated is dropped, the rest kept in order", () => {
  const maxAge = { number: OptionNumber.MaxAge, value: encodeUint(1) };
  const checked = checkOptions(get([path("a"), maxAge, maxAge, accept]));
  assert.ok("message" in checked);
  assert.deepEqual(checked.message.options.map((o) => o.number), [11, 14, 17]);
});
