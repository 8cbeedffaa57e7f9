/**
 * The BLOCK part of the ETSI CoAP#4 plugtest server (td-coap4 block.yml, TD_COAP_BLOCK_01–06): resources
 * whose representations or request bodies are larger than one block, so every exchange with them is
 * block-wise (RFC 7959). The server itself slices Block2 answers and gathers Block1 bodies; these handlers
 * only ever see whole representations.
 * @module
 */
import { Code } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import { CoapError } from "../server/coap_error.ts";
import type { CoapRequest } from "../server/request.ts";
import type { ResponseInit } from "../server/resource.ts";
import type { Site } from "../server/site.ts";

/** /large: 40 numbered lines of text, 2,400 bytes, so a GET takes three 1024-byte blocks or 150 of 16 bytes. */
export const LARGE_TEXT = Array.from(
  { length: 40 },
  (_, i) => `${String(i + 1).padStart(2, "0")} td-coap4 /large: one line of a representation in blocks.\n`,
).join("");

/** A stored representation: its bytes and the Content-Format they came with. */
interface Stored {
  readonly payload: Uint8Array;
  readonly contentFormat: number;
}

const ENCODER = new TextEncoder();

/** The request's body and its Content-Format; the TDs' clients always send one (4.00 otherwise, as Californium). */
function bodyOf(request: CoapRequest): Stored {
  const contentFormat = request.contentFormat;
  if (contentFormat === undefined) throw new CoapError(Code.BadRequest, "Content-Format not set");
  return { payload: request.payload, contentFormat };
}

/** 2.05 with a stored representation, or 4.06 when the client accepts another format only (RFC 7252 §5.10.4). */
function serve(stored: Stored, request: CoapRequest): ResponseInit {
  if (request.accept !== undefined && request.accept !== stored.contentFormat) {
    throw new CoapError(Code.NotAcceptable, `Content-Format ${stored.contentFormat} only`);
  }
  return { payload: stored.payload, contentFormat: stored.contentFormat };
}

/**
 * Adds the plugtest's block-wise resources to `site`: /large (GET, BLOCK_01, 02, 06), /large-update (PUT
 * then GET, BLOCK_03), /large-create (POST creates /large-create/N, BLOCK_04) and /large-post (POST echoed
 * back, so both directions are block-wise: BLOCK_05).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * import { addBlockResources, LARGE_TEXT } from "./plugtest_block.ts";
 * const site = new Site();
 * addBlockResources(site);
 * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const response = await client.get(`coap://127.0.0.1:${server.address.port}/large`);
 * assert.equal(response.text(), LARGE_TEXT);
 * client.close();
 * server.close();
 * ```
 */
export function addBlockResources(site: Site): void {
  const large: Stored = { payload: ENCODER.encode(LARGE_TEXT), contentFormat: ContentFormat.TextPlain };
  site.add("large", {
    title: "Large resource",
    rt: "block",
    ct: ContentFormat.TextPlain,
    sz: large.payload.length,
    get: (request) => serve(large, request),
  });

  let update = large;
  site.add("large-update", {
    title: "Large resource that can be updated using PUT method",
    rt: "block",
    get: (request) => serve(update, request),
    put: (request) => {
      update = bodyOf(request);
      return { code: Code.Changed };
    },
  });

  let created = 0;
  site.add("large-create", {
    title: "Large resource that can be created using POST method",
    rt: "block",
    post: (request) => {
      const stored = bodyOf(request);
      // TD_COAP_BLOCK_04: two Location-Path options, "large-create" and one segment the server chose.
      const path = `large-create/${++created}`;
      site.add(path, {
        ct: stored.contentFormat,
        sz: stored.payload.length,
        get: (request) => serve(stored, request),
        delete: () => {
          site.remove(path);
          return { code: Code.Deleted };
        },
      });
      return { code: Code.Created, locationPath: `/${path}` };
    },
  });

  site.add("large-post", {
    title: "Handle POST with two-way blockwise transfer",
    rt: "block",
    // TD_COAP_BLOCK_05: the answer is as large as the body, so it too goes in blocks.
    post: (request) => ({ code: Code.Changed, ...serve(bodyOf(request), request) }),
  });
}
