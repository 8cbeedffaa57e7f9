/**
 * What the server makes of a request's options before it looks for a
 * resource (RFC 7252 §5.4): the ones it refuses, the ones it ignores, and the
 * Uri-Path and Uri-Query they leave.
 * @module
 */
import { Code } from "../message/code.ts";
import { type CoapOption, getOption, getOptions, type Message } from "../message/message.ts";
import { isCritical, optionInfo, optionName, OptionNumber } from "../message/option.ts";
import { decodeBlock, decodeString } from "../message/option_value.ts";
import type { Outgoing } from "../endpoint/endpoint.ts";
import { errorMessage } from "./responses.ts";

/**
 * Critical options this server acts on; any other critical option gets 4.02 (RFC 7252 §5.4.1) unless the
 * resource lists it. If-Match and If-None-Match reach the handler, and the server acts on them itself for a
 * resource that declares its ETag (conditional.ts).
 */
const UNDERSTOOD = new Set<number>([
  OptionNumber.IfMatch,
  OptionNumber.IfNoneMatch,
  OptionNumber.UriHost,
  OptionNumber.UriPort,
  OptionNumber.UriPath,
  OptionNumber.UriQuery,
  OptionNumber.Accept,
  OptionNumber.Block1,
  OptionNumber.Block2,
]);
const PROXY_OPTIONS = new Set<number>([OptionNumber.ProxyUri, OptionNumber.ProxyScheme]);
const BLOCK_OPTIONS = [OptionNumber.Block1, OptionNumber.Block2] as const;
/** RFC 7959 §2.2: SZX 7 is reserved (BERT uses it, over TCP only: RFC 8323 §6). */
const RESERVED_SZX = 7;

/** A request's options as the server takes them: a refusal to send, or what to serve. */
export type OptionCheck =
  | { readonly refusal: Outgoing }
  | {
    /** The request without the elective option occurrences the server ignores. */
    readonly message: Message;
    /** Uri-Path segments, decoded. */
    readonly path: string[];
    /** Uri-Query entries, decoded. */
    readonly query: string[];
  };

/**
 * Checks a request's options. Refused: Proxy-Uri/Proxy-Scheme (5.05, §5.7.2); a critical option this server
 * does not act on, or one with a value length outside its definition or repeated when it is not repeatable
 * (4.02: §5.4.1, §5.4.3, §5.4.5 treat both like an unrecognized option); Block1 or Block2 with the reserved
 * SZX 7 (4.00, RFC 7959 §2.2); Uri-Path or Uri-Query that is not UTF-8 (4.00, §3.2). An elective option
 * with such a length, or repeated, is ignored instead (§5.4.1): of the occurrences of a non-repeatable one,
 * the first in the message is the option and every later one is supernumerary, and a first one of the wrong
 * length leaves the option absent. When several options are wrong, the first in the message answers.
 * `resourceOptions` gives the further critical options the resource at a path understands (Resource's
 * `criticalOptions`); it is asked only when the request carries a critical option the server does not know.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Code, decode, encodeUint, type Message, OptionNumber } from "../mod.ts";
 * import { checkOptions } from "./option_checks.ts";
 * // A CON GET with no token, then the options under test.
 * const get = (options: Message["options"]): Message => ({ ...decode(Uint8Array.of(0x40, 0x01, 0, 1)), options });
 * // Accept twice: a critical option repeated, 4.02.
 * const accept = { number: OptionNumber.Accept, value: encodeUint(50) };
 * const refused = checkOptions(get([accept, accept]));
 * assert.ok("refusal" in refused && refused.refusal.code === Code.BadOption);
 * // A 4-byte Observe: an elective option too long, ignored.
 * const observe = { number: OptionNumber.Observe, value: new Uint8Array(4) };
 * const served = checkOptions(get([observe]));
 * assert.ok("message" in served && served.message.options.length === 0);
 * ```
 */
export function checkOptions(
  message: Message,
  resourceOptions?: (path: string[]) => readonly number[] | undefined,
): OptionCheck {
  /** The resource's own critical options, looked up at the first critical option the server does not know. */
  let extra: readonly number[] | undefined;
  // Decoded options come in ascending order (RFC 7252 §3.1 deltas), so a repeat follows its first
  // occurrence; a Set is kept only for a hand-built message out of order.
  let seen: Set<number> | undefined;
  let previous = -1;
  let kept: CoapOption[] | undefined;
  const options = message.options;
  for (let i = 0; i < options.length; i++) {
    const option = options[i];
    if (seen === undefined && option.number < previous) {
      seen = new Set(options.slice(0, i).map((o) => o.number));
    }
    const repeated = seen === undefined ? option.number === previous : seen.has(option.number);
    seen?.add(option.number);
    previous = option.number;
    const fault = faultOf(option, repeated);
    if (fault !== undefined) {
      if (isCritical(option.number)) return { refusal: errorMessage(message.token, Code.BadOption, fault) };
      kept ??= options.slice(0, i);
      continue;
    }
    if (PROXY_OPTIONS.has(option.number)) {
      return { refusal: errorMessage(message.token, Code.ProxyingNotSupported) };
    }
    if (isCritical(option.number) && !UNDERSTOOD.has(option.number)) {
      if (extra === undefined) {
        const path = pathOf(message);
        extra = (path && resourceOptions?.(path)) ?? [];
      }
      if (extra.includes(option.number)) {
        kept?.push(option);
        continue;
      }
      return {
        refusal: errorMessage(message.token, Code.BadOption, `option ${option.number} not supported`),
      };
    }
    kept?.push(option);
  }
  const checked = kept === undefined ? message : { ...message, options: kept };
  const path: string[] = [];
  const query: string[] = [];
  try {
    for (const option of checked.options) {
      if (option.number === OptionNumber.UriPath) path.push(decodeString(option.value));
      else if (option.number === OptionNumber.UriQuery) query.push(decodeString(option.value));
    }
  } catch {
    return { refusal: errorMessage(message.token, Code.BadRequest, "Uri-Path or Uri-Query is not UTF-8") };
  }
  for (const number of BLOCK_OPTIONS) {
    const block = getOption(checked, number);
    if (block !== undefined && decodeBlock(block).szx === RESERVED_SZX) {
      const diagnostic = `${optionName(number)} SZX 7 is reserved`;
      return { refusal: errorMessage(message.token, Code.BadRequest, diagnostic) };
    }
  }
  return { message: checked, path, query };
}

/** Uri-Path decoded, or undefined when it is not UTF-8 (no resource's options; 4.02 or 4.00 follows). */
function pathOf(message: Message): string[] | undefined {
  try {
    return getOptions(message, OptionNumber.UriPath).map(decodeString);
  } catch {
    return undefined;
  }
}

/** Why an occurrence of a known option breaks its definition, or undefined when it does not. */
function faultOf(option: CoapOption, repeated: boolean): string | undefined {
  const info = optionInfo(option.number);
  if (info === undefined) return undefined;
  if (repeated && !info.repeatable) return `${info.name} (option ${info.number}) is not repeatable`;
  const length = option.value.length;
  if (length < info.minLength || length > info.maxLength) {
    return `${info.name} (option ${info.number}) has ${length} bytes (${info.minLength}-${info.maxLength} allowed)`;
  }
  return undefined;
}
