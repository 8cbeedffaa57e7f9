/**
 * A JSON document as a resource with RFC 8132's methods: GET it whole, FETCH the keys a JSON list names,
 * iPATCH merges an object into it (idempotent: the same merge twice is the same document), PATCH adds
 * numbers to its numeric members (not idempotent). A payload that is not JSON gets 4.15, a patch that
 * cannot apply 4.09 Conflict.
 * @module
 */
import { CoapError, type CoapRequest, Code, ContentFormat, type Resource } from "../mod.ts";

/**
 * The resource, over a document that starts as `initial`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, ContentFormat, Site } from "../mod.ts";
 * import { jsonDocument } from "./json_document.ts";
 * const server = new CoapServer(new Site().add("doc", jsonDocument({ count: 1 })), { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const uri = `coap://127.0.0.1:${server.address.port}/doc`;
 * const json = { contentFormat: ContentFormat.Json };
 * await client.request(uri, { method: "PATCH", payload: '{"count":2}', ...json });
 * assert.equal((await client.request(uri, { method: "FETCH", payload: '["count"]', ...json })).text(), '{"count":3}');
 * client.close();
 * server.close();
 * ```
 */
export function jsonDocument(
  initial: Record<string, unknown>,
): Resource & { readonly document: () => Record<string, unknown> } {
  let document = { ...initial };
  const body = (request: CoapRequest): unknown => {
    // RFC 8132 §2.2, §3.2: a payload in a format the handler does not take is 4.15.
    if (request.contentFormat !== ContentFormat.Json) {
      throw new CoapError(Code.UnsupportedContentFormat, "expected application/json (50)");
    }
    return request.json();
  };
  return {
    title: "A JSON document (FETCH, PATCH, iPATCH)",
    ct: ContentFormat.Json,
    document: () => document,
    get: () => ({ payload: JSON.stringify(document), contentFormat: ContentFormat.Json }),
    fetch: (request) => {
      const keys = body(request) as string[];
      const selected = Object.fromEntries(keys.filter((key) => key in document).map((k) => [k, document[k]]));
      return { payload: JSON.stringify(selected), contentFormat: ContentFormat.Json };
    },
    ipatch: (request) => void (document = { ...document, ...body(request) as Record<string, unknown> }),
    patch: (request) => {
      const additions = body(request) as Record<string, number>;
      for (const key of Object.keys(additions)) {
        // RFC 8132 §3.4: a patch that cannot apply to the resource's state is 4.09 Conflict.
        if (typeof document[key] !== "number") throw new CoapError(Code.Conflict, `${key} is not a number`);
      }
      const next = { ...document };
      for (const [key, value] of Object.entries(additions)) next[key] = (next[key] as number) + value;
      document = next;
    },
  };
}
