/**
 * The lab's demo server: a temperature sensor, an LED actuator and a small
 * JSON configuration document.
 * @module
 */
import { Code } from "../message/code.ts";
import { ContentFormat } from "../message/content_format.ts";
import { CoapError } from "../server/coap_error.ts";
import type { CoapRequest } from "../server/request.ts";
import type { ResponseInit } from "../server/resource.ts";
import { observable, type ObservableResource } from "../server/observable.ts";
import { Site } from "../server/site.ts";
import { addressKey } from "../transport/transport.ts";

/** Options of the demo site. */
export interface DemoOptions {
  /** Where the site reports state changes (default: nowhere). */
  log?: (line: string) => void;
  /** Milliseconds now, for the simulated reading (default Date.now). */
  now?: () => number;
  /** Let the reading drift and notify /temperature's observers this often (ms); off when absent. */
  driftEvery?: number;
}

/** The demo site and the means to stop its reading from drifting. */
export interface DemoSite {
  readonly site: Site;
  /** /temperature, observable: every 5th notification Confirmable (the lab's pattern). */
  readonly temperature: ObservableResource;
  stop(): void;
}

/** /large: numbered lines of text, about 4 KB, so a GET takes several 1024-byte blocks. */
const LARGE_TEXT = Array.from(
  { length: 64 },
  (_, i) => `${String(i + 1).padStart(2, "0")} CoAP moves big representations in blocks (RFC 7959).`,
).join("\n") + "\n";

/** "<bytes> bytes, sha256 <hex>" of an upload, as /upload answers it. */
async function digest(body: Uint8Array): Promise<ResponseInit> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", body as Uint8Array<ArrayBuffer>));
  const hex = Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return {
    code: Code.Changed,
    payload: `${body.length} bytes, sha256 ${hex}`,
    contentFormat: ContentFormat.TextPlain,
  };
}

/** How many readings /readings keeps for GET. */
const KEPT_READINGS = 20;

/** How long /slow takes: beyond the server's 500 ms separate-response delay. */
const SLOW_READING_MS = 1000;

/** A reading that drifts slowly around 22 °C, plus the offset a PUT set. */
function simulatedTemperature(ms: number, offset: number): string {
  const drift = 1.5 * Math.sin(ms / 60_000) + 0.3 * Math.sin(ms / 7_000);
  return (22 + drift + offset).toFixed(1);
}

function requireText(request: CoapRequest): string {
  const format = request.contentFormat;
  if (format !== undefined && format !== ContentFormat.TextPlain) {
    throw new CoapError(Code.UnsupportedContentFormat, "send text/plain (0)");
  }
  return request.text().trim();
}

/**
 * Builds the demo site: /temperature (observable), /slow (a separate response), /readings (from devices), /led, /config, /large (block-wise) and /upload (Block1).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CoapClient, CoapServer } from "../mod.ts";
 * import { demoSite } from "./demo_site.ts";
 * const changes: string[] = [];
 * const demo = demoSite({ log: (line) => changes.push(line), driftEvery: 2000 });
 * const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
 * const client = new CoapClient();
 * const response = await client.put(`coap://127.0.0.1:${server.address.port}/led`, "on");
 * assert.equal(response.codeString, "2.04");
 * assert.deepEqual(changes, ["led on"]);
 * client.close();
 * server.close();
 * demo.stop(); // the drift timer
 * ```
 */
export function demoSite(options: DemoOptions = {}): DemoSite {
  const log = options.log ?? (() => {});
  const now = options.now ?? Date.now;
  let temperatureOffset = 0;
  let ledOn = false;
  let config: string | undefined;
  const readings: { from: string; reading: unknown }[] = [];

  const temperature = observable({
    title: "Temperature (°C)",
    rt: "temperature-c",
    if: "sensor",
    ct: ContentFormat.TextPlain,
    get: () => ({
      payload: simulatedTemperature(now(), temperatureOffset),
      contentFormat: ContentFormat.TextPlain,
      maxAge: 2,
    }),
    put: (request) => {
      const text = requireText(request);
      const value = Number(text);
      if (text === "" || !Number.isFinite(value)) throw new CoapError(Code.BadRequest, "expected a number");
      temperatureOffset = value;
      log(`temperature calibration offset set to ${value}`);
      temperature.changed();
      return { code: Code.Changed };
    },
  }, { conEvery: 5 });
  const timer = options.driftEvery === undefined
    ? undefined
    : setInterval(() => temperature.changed(), options.driftEvery);

  const site = new Site()
    .add("temperature", temperature)
    .add("slow", {
      title: "A reading that takes 1 s (separate response)",
      rt: "temperature-c",
      ct: ContentFormat.TextPlain,
      // Longer than the server's separate-response delay, so the answer is an empty ACK now and a CON later.
      get: async () => {
        await new Promise((resolve) => setTimeout(resolve, SLOW_READING_MS));
        return {
          payload: simulatedTemperature(now(), temperatureOffset),
          contentFormat: ContentFormat.TextPlain,
        };
      },
    })
    .add("led", {
      title: "LED",
      rt: "light",
      if: "actuator",
      ct: ContentFormat.TextPlain,
      get: () => (ledOn ? "on" : "off"),
      put: (request) => {
        const text = requireText(request).toLowerCase();
        if (text !== "on" && text !== "off") throw new CoapError(Code.BadRequest, 'expected "on" or "off"');
        ledOn = text === "on";
        log(`led ${text}`);
        return { code: Code.Changed };
      },
      post: () => {
        ledOn = !ledOn;
        log(`led toggled ${ledOn ? "on" : "off"}`);
        return { code: Code.Changed, payload: ledOn ? "on" : "off", contentFormat: ContentFormat.TextPlain };
      },
    })
    .add("config", {
      title: "Configuration (JSON)",
      rt: "config",
      ct: ContentFormat.Json,
      get: () => {
        if (config === undefined) {
          throw new CoapError(Code.NotFound, "no configuration yet: PUT a JSON document");
        }
        return { payload: config, contentFormat: ContentFormat.Json };
      },
      put: (request) => {
        const format = request.contentFormat;
        if (format !== undefined && format !== ContentFormat.Json) {
          throw new CoapError(Code.UnsupportedContentFormat, "send application/json (50)");
        }
        let document: unknown;
        try {
          document = JSON.parse(request.text());
        } catch {
          throw new CoapError(Code.BadRequest, "payload is not JSON");
        }
        const created = config === undefined;
        config = JSON.stringify(document);
        log(`config ${created ? "created" : "replaced"}: ${config}`);
        return { code: created ? Code.Created : Code.Changed };
      },
      delete: () => {
        config = undefined;
        log("config deleted");
        return { code: Code.Deleted };
      },
    });
  site
    .add("large", {
      title: "A few KB of text (block-wise)",
      ct: ContentFormat.TextPlain,
      sz: LARGE_TEXT.length,
      get: () => LARGE_TEXT,
    })
    .add("upload", {
      title: "Block1 upload: answers size and SHA-256",
      put: (request) => digest(request.payload),
      post: (request) => digest(request.payload),
    })
    .add("readings", {
      title: "Readings sent by sensor nodes (PUT/POST JSON; GET the latest)",
      rt: "readings",
      ct: ContentFormat.Json,
      get: () => ({ payload: JSON.stringify(readings), contentFormat: ContentFormat.Json }),
      put: (request) => keepReading(request),
      post: (request) => keepReading(request),
    });
  /** The edge host's side of the device's readings (`device --edge coap://HOST/readings`). */
  function keepReading(request: CoapRequest): ResponseInit {
    let reading: unknown;
    try {
      reading = JSON.parse(request.text());
    } catch {
      throw new CoapError(Code.BadRequest, "payload is not JSON");
    }
    readings.push({ from: addressKey(request.peer), reading });
    if (readings.length > KEPT_READINGS) readings.shift();
    log(`reading from ${addressKey(request.peer)}: ${JSON.stringify(reading)}`);
    return { code: Code.Changed };
  }
  return { site, temperature, stop: () => clearInterval(timer) };
}
