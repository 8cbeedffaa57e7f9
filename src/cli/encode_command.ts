/** `encode --type CON --code GET --path temperature …`: builds a message from flags and prints its hex. */
import { parseCode } from "../message/code.ts";
import { encode } from "../message/codec.ts";
import type { CoapOption } from "../message/message.ts";
import { OptionNumber } from "../message/option.ts";
import {
  encodeBlock,
  encodeString,
  encodeUint,
  splitUriPath,
  splitUriQuery,
} from "../message/option_value.ts";
import { parseType } from "../message/type.ts";
import { bytesToHex, hexToBytes } from "../tools/hex.ts";
import { parseFlags } from "./parse_flags.ts";
import { UsageError } from "./usage_error.ts";
import { integerFlag, optionFlag } from "./flag_values.ts";

/** Usage text of `encode`. */
export const ENCODE_USAGE = `encode [flags]
  Build a CoAP datagram and print it as hex.
    --type CON|NON|ACK|RST  --code GET|2.05|Content  --mid N|0xN  --token HEX
    --path /a/b  --query k=v  --option NUMBER=HEX  --etag HEX    (all repeatable)
    --host H  --port N  --content-format N  --accept N  --observe N  --max-age N
    --block1 NUM/M/SZX  --block2 NUM/M/SZX  --size1 N  --size2 N  --if-none-match
    --payload TEXT | --payload-hex HEX
  example:
    encode --type CON --code GET --mid 0xabcd --token 11 --path /temperature`;

const FLAGS = {
  type: { type: "string", default: "CON" },
  code: { type: "string", default: "GET" },
  mid: { type: "string" },
  token: { type: "string", default: "" },
  path: { type: "string", multiple: true },
  query: { type: "string", multiple: true },
  host: { type: "string" },
  port: { type: "string" },
  "content-format": { type: "string" },
  accept: { type: "string" },
  observe: { type: "string" },
  "max-age": { type: "string" },
  etag: { type: "string", multiple: true },
  block1: { type: "string" },
  block2: { type: "string" },
  size1: { type: "string" },
  size2: { type: "string" },
  "if-none-match": { type: "boolean" },
  option: { type: "string", multiple: true },
  payload: { type: "string" },
  "payload-hex": { type: "string" },
} as const;

function hex(flag: string, text: string): Uint8Array {
  try {
    return hexToBytes(text);
  } catch (error) {
    throw new UsageError(`--${flag}: ${(error as Error).message}`);
  }
}

function block(flag: string, text: string): Uint8Array {
  const match = /^(\d+)\/([01])\/([0-6])$/.exec(text);
  if (!match) throw new UsageError(`--${flag} ${text}: expected NUM/M/SZX, for example 0/1/6`);
  return encodeBlock({
    num: integerFlag(flag, match[1], 0xfffff),
    more: match[2] === "1",
    szx: Number(match[3]),
  });
}

/** Runs `encode`; returns the exit code. */
export function encodeCommand(args: string[]): number {
  const { values, positionals } = parseFlags(args, FLAGS);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}"\nusage: ${ENCODE_USAGE}`);
  }
  if (values.payload !== undefined && values["payload-hex"] !== undefined) {
    throw new UsageError("give --payload or --payload-hex, not both");
  }
  let type, code;
  try {
    type = parseType(values.type);
    code = parseCode(values.code);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const token = hex("token", values.token);
  if (token.length > 8) throw new UsageError(`--token: ${token.length} bytes, at most 8`);
  const options: CoapOption[] = [];
  const add = (number: number, value: Uint8Array) => options.push({ number, value });
  const uint = (flag: keyof typeof FLAGS, number: number, max: number) => {
    const text = values[flag];
    if (typeof text === "string") add(number, encodeUint(integerFlag(flag, text, max)));
  };
  if (values.host !== undefined) add(OptionNumber.UriHost, encodeString(values.host));
  uint("port", OptionNumber.UriPort, 0xffff);
  try {
    // Repeated --path flags accumulate: `--path sensors --path t1` is /sensors/t1.
    for (const path of values.path ?? []) {
      for (const segment of splitUriPath(path)) add(OptionNumber.UriPath, segment);
    }
    for (const query of values.query ?? []) {
      for (const part of splitUriQuery(query)) add(OptionNumber.UriQuery, part);
    }
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  uint("content-format", OptionNumber.ContentFormat, 0xffff);
  uint("accept", OptionNumber.Accept, 0xffff);
  uint("observe", OptionNumber.Observe, 0xffffff);
  uint("max-age", OptionNumber.MaxAge, 0xffffffff);
  uint("size1", OptionNumber.Size1, 0xffffffff);
  uint("size2", OptionNumber.Size2, 0xffffffff);
  for (const etag of values.etag ?? []) add(OptionNumber.ETag, hex("etag", etag));
  if (values.block1 !== undefined) add(OptionNumber.Block1, block("block1", values.block1));
  if (values.block2 !== undefined) add(OptionNumber.Block2, block("block2", values.block2));
  if (values["if-none-match"]) add(OptionNumber.IfNoneMatch, new Uint8Array());
  for (const raw of values.option ?? []) {
    const { number, value } = optionFlag("option", raw);
    add(number, value);
  }
  const payload = values["payload-hex"] !== undefined
    ? hex("payload-hex", values["payload-hex"])
    : encodeString(values.payload ?? "");
  const messageId = values.mid === undefined
    ? crypto.getRandomValues(new Uint16Array(1))[0]
    : integerFlag("mid", values.mid, 0xffff);
  console.log(bytesToHex(encode({ type, code, messageId, token, options, payload })));
  return 0;
}
