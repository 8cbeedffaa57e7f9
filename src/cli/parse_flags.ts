/** node:util parseArgs with its errors turned into UsageError (JSR's @std/cli is not reachable here). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage_error.ts";

/**
 * Parses a command's arguments strictly: unknown flags and missing values are usage errors, a value
 * may start with "-" (`--payload -0.5`), and a flag that takes one value may not be given twice (the
 * second would silently win); flags declared `multiple` accumulate.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./parse_flags.ts";
 * import { UsageError } from "./usage_error.ts";
 * const { values, positionals } = parseFlags(["--json", "4401"], { json: { type: "boolean" } });
 * assert.equal(values.json, true);
 * assert.deepEqual(positionals, ["4401"]);
 * assert.equal(parseFlags(["--payload", "-0.5"], { payload: { type: "string" } }).values.payload, "-0.5");
 * assert.throws(() => parseFlags(["--jsn"], { json: { type: "boolean" } }), UsageError);
 * assert.throws(() => parseFlags(["--port", "1", "--port", "2"], { port: { type: "string" } }), /given twice/);
 * ```
 */
export function parseFlags<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T) {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const option = arg.startsWith("--") && !arg.includes("=") ? options[arg.slice(2)] : undefined;
    // parseArgs calls a value that starts with "-" ambiguous; a string flag always takes the next argument.
    if (option?.type === "string" && i + 1 < args.length && args[i + 1].startsWith("-")) {
      joined.push(`${arg}=${args[++i]}`);
    } else {
      joined.push(arg);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} given twice: it takes one value`);
    seen.add(token.name);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}
