/**
 * The server of the ETSI CoAP#4 plugtest (td-coap4): every resource its CORE, LINK, BLOCK and OBS test
 * descriptions (TDs) ask a server to offer, built from the public API only, so it doubles as the worked
 * example of each feature. The TD each resource serves is named beside it.
 * @module
 */
import {
  CoapError,
  type CoapRequest,
  Code,
  ContentFormat,
  type ResponseInit,
  Site,
  wellKnownCore,
} from "../mod.ts";
import { addBlockResources } from "./plugtest_block.ts";
import { jsonDocument } from "./json_document.ts";
import { addObserveResources } from "./plugtest_observe.ts";

/** How long /separate works before it answers: long enough that the empty ACK and the answer are apart. */
const SEPARATE_DELAY_MS = 1000;

/** The fixed answer of /seg1/seg2/seg3, whose size its `sz` link attribute advertises (TD_COAP_LINK_06). */
const SEG3_TEXT = "Several Uri-Path options: /seg1/seg2/seg3";

/** The Location-Path /test answers a POST with: several segments (TD_COAP_CORE_04, CORE_18). */
const TEST_LOCATION = "/location1/location2/location3";

/** The Location-Query /location-query answers a POST with: several arguments (TD_COAP_CORE_19). */
const LOCATION_QUERY = "first=1&second=2";

/** The plugtest site and the means to stop its timers. */
export interface PlugtestSite {
  readonly site: Site;
  stop(): void;
}

/** What /test and /separate say about a request: type, method and Message ID, as plugtest servers do. */
function describe(request: CoapRequest): ResponseInit {
  const type = request.confirmable ? "CON" : "NON";
  return {
    payload: `Type: ${type}, Code: ${request.method}, MID: ${request.message.messageId}`,
    contentFormat: ContentFormat.TextPlain,
  };
}

/** A text/plain answer. */
function text(payload: string, code?: number): ResponseInit {
  return { code, payload, contentFormat: ContentFormat.TextPlain };
}

/**
 * An ETag that names a version of a representation: its version number in 4 bytes (RFC 7252 §5.10.6 lets a
 * server choose any opaque value of 1-8 bytes).
 */
function versionTag(version: number): Uint8Array {
  return Uint8Array.of(version >>> 24, version >>> 16, version >>> 8, version);
}

/**
 * /validate (TD_COAP_CORE_21, CORE_22): a text document with an ETag that changes on every PUT. Declaring
 * `etag` is all the server needs to answer 2.03 Valid to a GET naming the current ETag and 4.12 to a PUT
 * whose If-Match names an old one; the handlers only ever see requests that are to run.
 */
function validateResource() {
  let version = 1;
  let document = "A resource to validate: version 1";
  return {
    title: "ETag validation and If-Match",
    ct: ContentFormat.TextPlain,
    etag: () => versionTag(version),
    get: () => ({ ...text(document), etag: versionTag(version) }),
    put: (request: CoapRequest) => {
      version++;
      document = request.text();
      return { code: Code.Changed, etag: versionTag(version) };
    },
  };
}

/**
 * /create1 (TD_COAP_CORE_23): absent until a PUT creates it. While it does not exist `etag` is undefined,
 * so a PUT with If-None-Match runs and answers 2.01; once it exists the server refuses the same PUT with
 * 4.12 Precondition Failed (RFC 7252 §5.10.8.2). DELETE removes it again, so the TD can be repeated.
 */
function create1Resource() {
  let document: { text: string; etag: Uint8Array } | undefined;
  let writes = 0;
  return {
    title: "Created by PUT, refused with If-None-Match once it exists",
    etag: () => document?.etag,
    get: () => {
      if (document === undefined) throw new CoapError(Code.NotFound, "PUT creates /create1");
      return { ...text(document.text), etag: document.etag };
    },
    put: (request: CoapRequest) => {
      const created = document === undefined;
      document = { text: request.text(), etag: versionTag(++writes) };
      return { code: created ? Code.Created : Code.Changed, etag: document.etag };
    },
    delete: () => {
      document = undefined;
      return { code: Code.Deleted };
    },
  };
}

/**
 * /multi-format (TD_COAP_CORE_20): one state in two Content-Formats, chosen by Accept; any other Accept
 * gets 4.06 Not Acceptable (RFC 7252 §5.10.4).
 */
function multiFormatResource() {
  return {
    title: "text/plain or application/xml, by Accept",
    ct: [ContentFormat.TextPlain, ContentFormat.Xml],
    get: (request: CoapRequest) => {
      switch (request.accept ?? ContentFormat.TextPlain) {
        case ContentFormat.TextPlain:
          return text("Status: ready");
        case ContentFormat.Xml:
          return { payload: '<status value="ready"/>', contentFormat: ContentFormat.Xml };
        default:
          throw new CoapError(Code.NotAcceptable, "Accept text/plain (0) or application/xml (41)");
      }
    },
  };
}

/** /link1, /link2, /link3 (TD_COAP_LINK_02–05, 07, 08): rt and if values that overlap, for filtering. */
const LINKS = [
  { path: "link1", rt: "Type1 Type2", if: "If1" },
  { path: "link2", rt: "Type2 Type3", if: "If2" },
  { path: "link3", rt: "Type1 Type3", if: "foo" },
];

/**
 * Builds the td-coap4 server: /test, /separate, /seg1/seg2/seg3, /query, /location-query, /multi-format,
 * /validate, /create1, /path with /path/sub1–3, /link1–3, and the Block and Observe resources.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer } from "../mod.ts";
 * import { plugtestSite } from "./plugtest_site.ts";
 * const plugtest = plugtestSite();
 * const server = new CoapServer(plugtest.site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const created = await client.post(`coap://127.0.0.1:${server.address.port}/test`, "x");
 * assert.equal(created.codeString, "2.01");
 * client.close();
 * server.close();
 * plugtest.stop();
 * ```
 */
export function plugtestSite(): PlugtestSite {
  const site = new Site()
    // TD_COAP_CORE_01–08, 10, 12, 15, 18: every method, CON or NON; the server answers in kind.
    .add("test", {
      title: "Default test resource",
      ct: ContentFormat.TextPlain,
      get: describe,
      put: () => ({ code: Code.Changed }),
      post: () => ({ code: Code.Created, locationPath: TEST_LOCATION }),
      delete: () => ({ code: Code.Deleted }),
    })
    // TD_COAP_CORE_09, 11, 16, 17: the empty ACK at once, the answer later in its own message (RFC 7252
    // §5.2.2); to a NON request acknowledge() does nothing and the answer is a NON.
    .add("separate", {
      title: "Resource which cannot be served immediately",
      ct: ContentFormat.TextPlain,
      get: async (request) => {
        request.acknowledge();
        await new Promise((resolve) => setTimeout(resolve, SEPARATE_DELAY_MS));
        return describe(request);
      },
    })
    // TD_COAP_CORE_13: several Uri-Path options.
    .add("seg1/seg2/seg3", {
      title: "Long path resource",
      ct: ContentFormat.TextPlain,
      sz: new TextEncoder().encode(SEG3_TEXT).length,
      get: () => text(SEG3_TEXT),
    })
    // TD_COAP_CORE_14: several Uri-Query options, echoed as one query string.
    .add("query", {
      title: "Resource accepting query parameters",
      ct: ContentFormat.TextPlain,
      get: (request) => text(`Query: ${request.query.join("&")}`),
    })
    // TD_COAP_CORE_19: the created resource named by several Location-Query options.
    .add("location-query", {
      title: "Answers POST with Location-Query",
      post: () => ({ code: Code.Created, locationQuery: LOCATION_QUERY }),
    })
    .add("multi-format", multiFormatResource())
    .add("validate", validateResource())
    .add("create1", create1Resource())
    // TD_COAP_LINK_09: a resource whose representation is itself link-format (ct=40): its sub-resources.
    .add("path", {
      title: "Hierarchical link description entry",
      ct: ContentFormat.LinkFormat,
      get: () => ({ payload: wellKnownCore(site, "href=/path/*"), contentFormat: ContentFormat.LinkFormat }),
    });
  for (const sub of ["sub1", "sub2", "sub3"]) {
    site.add(`path/${sub}`, {
      title: `Hierarchical link description sub-resource ${sub}`,
      get: () => text(sub),
    });
  }
  for (const link of LINKS) {
    site.add(link.path, { rt: link.rt, if: link.if, get: () => text(`/${link.path}`) });
  }
  // Not in td-coap4: RFC 8132's FETCH, PATCH and iPATCH, for `main.ts fetch|patch|ipatch`.
  site.add("document", jsonDocument({ count: 1, name: "plugtest" }));
  addBlockResources(site);
  const observe = addObserveResources(site);
  return { site, stop: () => observe.stop() };
}
