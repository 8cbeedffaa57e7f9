/**
 * The td-coap4 Observe resources (/obs, /obs-non, /obs-large, /obs-pumping): filled in by the Block/Observe
 * part.
 * @module
 */
import type { Site } from "../mod.ts";

/**
 * Adds the plugtest's Observe resources to `site`; `stop()` ends their timers. Filled in by the
 * Block/Observe part.
 * @example
 * ```ts
 * import { Site } from "../mod.ts";
 * import { addObserveResources } from "./plugtest_observe.ts";
 * addObserveResources(new Site()).stop();
 * ```
 */
export function addObserveResources(_site: Site): { stop(): void } {
  return { stop: () => {} };
}
