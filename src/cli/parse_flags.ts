/** node:util parseArgs with its errors turned into UsageError (JSR's @std/cli is not reachable here). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage_error.ts";

/**
 * Parses a command's arguments strictly: unknown flags and missing values are usage errors.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./parse_flags.ts";
 * import { UsageError } from "./usage_error.ts";
 * const { values, positionals } = parseFlags(["--json", "4401"], { json: { type: "boolean" } });
 * assert.equal(values.json, true);
 * assert.deepEqual(positionals, ["4401"]);
 * assert.throws(() => parseFlags(["--jsn"], { json: { type: "boolean" } }), UsageError);
 * ```
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
