/**
 * The OBS part of the ETSI CoAP#4 plugtest server (td-coap4 block.yml, TD_COAP_OBS_01–14): observable
 * resources that change on a timer (RFC 7641). Notifications, their message types, Block2 slicing of large
 * ones and deregistration are the server's; these resources only say what changed and when.
 * @module
 */
import { Code } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import { CoapError } from "../server/coap_error.ts";
import { observable } from "../server/observable.ts";
import type { CoapRequest } from "../server/request.ts";
import type { ResponseInit } from "../server/resource.ts";
import type { Site } from "../server/site.ts";

/** Options of the observe resources. */
export interface ObserveResourceOptions {
  /** How often /obs, /obs-non and /obs-large change, in ms (default 5000, the TDs' "every 5 s"). */
  interval?: number;
}

/** The TDs' period: "changes periodically (e.g. every 5s)". */
const DEFAULT_INTERVAL_MS = 5000;

/** /obs-pumping changes this many times per interval: the frequent changes that make notifications queue. */
const PUMPING_PER_INTERVAL = 5;

/** One 63-character line of dashes, the padding that makes a notification larger than a block. */
const PADDING = "-".repeat(63);

/** The time of day, "HH:MM:SS" (UTC), as the plugtest's clocks show it. */
function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

/** The time between 20 padding lines: 1,289 bytes, more than one 1024-byte block (TD_COAP_OBS_13). */
function largeClock(): string {
  const half = Array(10).fill(PADDING).join("\n");
  return `${half}\n${clock()}\n${half}\n`;
}

/**
 * The sizes /obs-pumping cycles through (TD_COAP_OBS_14: a large resource of variable size): the time alone
 * (8 bytes), framed in 84 bytes (two 64-byte blocks) and in 1,289 (more than a 1024-byte block), so one
 * notification fits in a block and the next does not.
 */
const PUMPING_SHAPES: readonly (() => string)[] = [
  clock,
  () => `${PADDING.slice(0, 31)}\n${clock().padStart(19)}\n${PADDING.slice(0, 31)}\n`,
  largeClock,
];

/** Max-Age of a notification: the resource changes within this many seconds (RFC 7641 §4.3.1, TD_COAP_OBS_04). */
function maxAgeOf(interval: number): number {
  return Math.max(1, Math.ceil(interval / 1000));
}

/** 4.06 when the client accepts only a format the resource does not have now (RFC 7252 §5.10.4). */
function checkAccept(request: CoapRequest, contentFormat: number): void {
  if (request.accept !== undefined && request.accept !== contentFormat) {
    throw new CoapError(Code.NotAcceptable, `Content-Format ${contentFormat} only`);
  }
}

/**
 * Adds the plugtest's observable resources to `site` and starts their timers: /obs (every notification
 * Confirmable; PUT sets its value, DELETE ends its observations with 4.04, a PUT in another Content-Format
 * with 4.06), /obs-non (Non-confirmable notifications), /obs-large (each notification larger than a block)
 * and /obs-pumping (five changes per interval, of varying size). `stop()` ends the timers.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer, Site } from "../mod.ts";
 * import { addObserveResources } from "./plugtest_observe.ts";
 * const site = new Site();
 * const resources = addObserveResources(site, { interval: 100 });
 * const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const observation = await client.observe(`coap://127.0.0.1:${server.address.port}/obs`);
 * for await (const notification of observation) {
 *   assert.match(notification.text(), /^\d\d:\d\d:\d\d$/);
 *   break; // leaving the loop deregisters
 * }
 * client.close();
 * server.close();
 * resources.stop();
 * ```
 */
export function addObserveResources(site: Site, options: ObserveResourceOptions = {}): { stop(): void } {
  const interval = options.interval ?? DEFAULT_INTERVAL_MS;
  const maxAge = maxAgeOf(interval);
  const text = (payload: string): ResponseInit => ({
    payload,
    contentFormat: ContentFormat.TextPlain,
    maxAge,
  });

  // /obs shows the clock until a PUT gives it a value of its own; DELETE goes back to the clock.
  let value: { payload: Uint8Array; contentFormat: number } | undefined;
  const obs = observable({
    title: "Observable resource which changes every 5 seconds",
    rt: "observe",
    ct: ContentFormat.TextPlain,
    get: (request) => {
      if (value === undefined) {
        checkAccept(request, ContentFormat.TextPlain);
        return text(clock());
      }
      checkAccept(request, value.contentFormat);
      return { ...value, maxAge };
    },
    put: (request) => {
      const contentFormat = request.contentFormat;
      if (contentFormat === undefined) throw new CoapError(Code.BadRequest, "Content-Format not set");
      // RFC 7641 §4.2, TD_COAP_OBS_08: observers registered for the old format cannot be served any more.
      if (contentFormat !== (value?.contentFormat ?? ContentFormat.TextPlain)) {
        obs.terminate(Code.NotAcceptable, "Content-Format changed");
      }
      value = { payload: request.payload, contentFormat };
      obs.changed();
      return { code: Code.Changed };
    },
    delete: () => {
      // RFC 7641 §3.2, TD_COAP_OBS_07: the resource as observed is gone; every observer hears 4.04.
      obs.terminate(Code.NotFound, "deleted");
      value = undefined;
      return { code: Code.Deleted };
    },
  }, { conEvery: 1 });

  const obsNon = observable({
    title: "Observable resource which changes every 5 seconds (NON notifications)",
    rt: "observe",
    ct: ContentFormat.TextPlain,
    get: (request) => {
      checkAccept(request, ContentFormat.TextPlain);
      return text(clock());
    },
  }, { conEvery: 0 });

  const obsLarge = observable({
    title: "Large observable resource which changes every 5 seconds",
    rt: "observe",
    ct: ContentFormat.TextPlain,
    get: (request) => {
      checkAccept(request, ContentFormat.TextPlain);
      return text(largeClock());
    },
  }, { conEvery: 1 });

  let pumped = 0;
  const obsPumping = observable({
    title: "Observable resource which changes often, in varying size",
    rt: "observe",
    ct: ContentFormat.TextPlain,
    get: (request) => {
      checkAccept(request, ContentFormat.TextPlain);
      return text(PUMPING_SHAPES[pumped % PUMPING_SHAPES.length]());
    },
  }, { conEvery: 1 });

  site.add("obs", obs).add("obs-non", obsNon).add("obs-large", obsLarge).add("obs-pumping", obsPumping);
  const timers = [
    setInterval(() => {
      if (value === undefined) obs.changed();
      obsNon.changed();
      obsLarge.changed();
    }, interval),
    setInterval(() => {
      pumped++;
      obsPumping.changed();
    }, interval / PUMPING_PER_INTERVAL),
  ];
  return { stop: () => timers.forEach(clearInterval) };
}
