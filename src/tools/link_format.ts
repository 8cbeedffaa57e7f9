/** Reading CoRE Link Format (RFC 6690) for `discover`. */

/** One link: its target and attributes (a bare attribute such as `obs` is true). */
export interface Link {
  href: string;
  attributes: Record<string, string | true>;
}

/**
 * Parses a link-format document; commas and semicolons inside quoted values are kept.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseLinkFormat } from "./link_format.ts";
 * assert.deepEqual(parseLinkFormat('</led>;rt="light";obs,</config>'), [
 *   { href: "/led", attributes: { rt: "light", obs: true } },
 *   { href: "/config", attributes: {} },
 * ]);
 * ```
 */
export function parseLinkFormat(text: string): Link[] {
  const links: Link[] = [];
  const pattern = /\s*<([^>]*)>((?:\s*;\s*[^;,=\s]+(?:=(?:"(?:[^"\\]|\\.)*"|[^;,]*))?)*)\s*(?:,|$)/gy;
  let match: RegExpExecArray | null;
  while (pattern.lastIndex < text.length && (match = pattern.exec(text)) !== null) {
    const attributes: Record<string, string | true> = {};
    for (
      const [, name, quoted, plain] of match[2].matchAll(
        /;\s*([^;,=\s]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^;,]*)))?/g,
      )
    ) {
      attributes[name] = quoted !== undefined
        ? quoted.replace(/\\(.)/g, "$1")
        : plain !== undefined
        ? plain.trim()
        : true;
    }
    links.push({ href: match[1], attributes });
  }
  return links;
}
