/** The JSON form of a message used by `decode --json` and the client commands. */
import { codeName, codeString } from "../message/code.ts";
import type { Message } from "../message/message.ts";
import { optionName } from "../message/option.ts";
import { isUtf8 } from "../message/option_value.ts";
import { typeName } from "../message/type.ts";
import { optionValueJson } from "./describe_option.ts";
import { bytesToHex } from "./hex.ts";

/** JSON shape of a message: payload as text when it is UTF-8, else as `payloadHex`. */
export interface MessageJson {
  type: "CON" | "NON" | "ACK" | "RST";
  code: string;
  codeName: string;
  messageId: number;
  token: string;
  options: { number: number; name: string; value: string | number }[];
  payload?: string;
  payloadHex?: string;
}

/**
 * A message as plain JSON data.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode } from "../mod.ts";
 * import { hexToBytes } from "./hex.ts";
 * import { messageToJson } from "./message_json.ts";
 * const json = messageToJson(decode(hexToBytes("40011234")));
 * assert.deepEqual([json.type, json.code, json.codeName, json.messageId], ["CON", "0.01", "GET", 0x1234]);
 * ```
 */
export function messageToJson(message: Message): MessageJson {
  const json: MessageJson = {
    type: typeName(message.type),
    code: codeString(message.code),
    codeName: codeName(message.code),
    messageId: message.messageId,
    token: bytesToHex(message.token),
    options: message.options.map(({ number, value }) => ({
      number,
      name: optionName(number),
      value: optionValueJson(number, value),
    })),
  };
  if (isUtf8(message.payload)) json.payload = new TextDecoder().decode(message.payload);
  else json.payloadHex = bytesToHex(message.payload);
  return json;
}
