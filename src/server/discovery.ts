/**
 * /.well-known/core (RFC 6690): the site's resources in CoRE Link Format,
 * filtered by one query parameter as §4.1 describes.
 * @module
 */
import { ContentFormat } from "../message/content_format.ts";
import type { Resource } from "./resource.ts";
import type { Site } from "./site.ts";

type Attributes = [name: string, values: string[], quoted: boolean][];

function attributes(resource: Resource): Attributes {
  // RFC 6690 §3.1-3.2, RFC 7252 §7.2.1: rt, if and ct are space-separated lists, whether given as one
  // string ("Type1 Type2") or as an array: both are split, so they print and filter alike.
  const list = (value: string | number | (string | number)[] | undefined) =>
    value === undefined
      ? []
      : (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(/\s+/)).filter((v) =>
        v !== ""
      );
  const result: Attributes = [];
  if (resource.rt !== undefined) result.push(["rt", list(resource.rt), true]);
  if (resource.if !== undefined) result.push(["if", list(resource.if), true]);
  if (resource.ct !== undefined) result.push(["ct", list(resource.ct), false]);
  if (resource.sz !== undefined) result.push(["sz", [String(resource.sz)], false]);
  if (resource.title !== undefined) result.push(["title", [resource.title], true]);
  if (resource.obs) result.push(["obs", [], false]);
  return result;
}

function serialize(href: string, attrs: Attributes): string {
  let link = `<${href}>`;
  for (const [name, values, quoted] of attrs) {
    if (values.length === 0) link += `;${name}`;
    else if (quoted || values.length > 1) link += `;${name}="${values.join(" ").replace(/["\\]/g, "\\$&")}"`;
    else link += `;${name}=${values[0]}`;
  }
  return link;
}

/** RFC 6690 §4.1: a trailing "*" matches any suffix; multi-valued attributes match if any value does. */
function matches(wanted: string, value: string): boolean {
  return wanted.endsWith("*") ? value.startsWith(wanted.slice(0, -1)) : value === wanted;
}

/**
 * The link-format document for `site`, keeping only links that pass `filter`
 * ("rt=temp*", "href=/led", "obs", or undefined for all).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Site, wellKnownCore } from "../mod.ts";
 * const site = new Site()
 *   .add("temperature", { rt: "temperature-c", get: () => "22.5" })
 *   .add("led", { rt: "light", get: () => "off" });
 * assert.equal(wellKnownCore(site, "rt=temp*"), '</temperature>;rt="temperature-c"');
 * ```
 */
export function wellKnownCore(site: Site, filter?: string): string {
  const [name, value] = filter === undefined ? [] : splitFilter(filter);
  const links: string[] = [];
  for (const [href, resource] of site.entries()) {
    const attrs = attributes(resource);
    if (name !== undefined) {
      const keep = name === "href"
        ? value !== undefined && matches(value, href)
        : attrs.some(([attr, values]) =>
          attr === name && (value === undefined || values.some((candidate) => matches(value, candidate)))
        );
      if (!keep) continue;
    }
    links.push(serialize(href, attrs));
  }
  return links.join(",");
}

function splitFilter(filter: string): [string, string | undefined] {
  const at = filter.indexOf("=");
  return at < 0 ? [filter, undefined] : [filter.slice(0, at), filter.slice(at + 1)];
}

/**
 * /.well-known/core as an ordinary resource: GET lists `site`, filtered by the first Uri-Query.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapRequest, decode, discoveryResource, Site } from "../mod.ts";
 * const site = new Site().add("temperature", { get: () => "22.5", rt: "temperature" });
 * const get = decode(Uint8Array.of(0x40, 0x01, 0, 1));
 * const request = new CoapRequest(get, { hostname: "127.0.0.1", port: 5683 }, [".well-known", "core"], []);
 * assert.deepEqual(discoveryResource(site).get!(request), {
 *   payload: '</temperature>;rt="temperature"',
 *   contentFormat: 40,
 * });
 * ```
 */
export function discoveryResource(site: Site): Resource {
  return {
    get: (request) => ({
      payload: wellKnownCore(site, request.query[0]),
      contentFormat: ContentFormat.LinkFormat,
    }),
  };
}
