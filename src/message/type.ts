/** Message types (RFC 7252 §3, the T field). */
export const Type = {
  /** Confirmable: retransmitted until acknowledged. */
  CON: 0,
  /** Non-confirmable. */
  NON: 1,
  /** Acknowledgement of a CON. */
  ACK: 2,
  /** Reset: the CON or NON could not be processed. */
  RST: 3,
} as const;

/** A message type value, 0-3. */
export type Type = (typeof Type)[keyof typeof Type];

const TYPE_NAMES = ["CON", "NON", "ACK", "RST"] as const;

/**
 * Short name of a message type.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Type, typeName } from "../mod.ts";
 * assert.equal(typeName(Type.ACK), "ACK");
 * ```
 */
export function typeName(type: number): "CON" | "NON" | "ACK" | "RST" {
  return TYPE_NAMES[type & 3];
}

/**
 * Parses "CON", "non", … into a type; throws RangeError for anything else.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseType, Type } from "../mod.ts";
 * assert.equal(parseType("con"), Type.CON); // 0
 * ```
 */
export function parseType(name: string): Type {
  const index = TYPE_NAMES.indexOf(name.toUpperCase() as (typeof TYPE_NAMES)[number]);
  if (index < 0) throw new RangeError(`unknown message type "${name}" (expected CON, NON, ACK or RST)`);
  return index as Type;
}
