/**
 * The td-coap4 Block resources (/large, /large-update, /large-create, /large-post): filled in by the
 * Block/Observe part.
 * @module
 */
import type { Site } from "../mod.ts";

/**
 * Adds the plugtest's Block resources to `site`; filled in by the Block/Observe part.
 * @example
 * ```ts
 * import { Site } from "../mod.ts";
 * import { addBlockResources } from "./plugtest_block.ts";
 * addBlockResources(new Site());
 * ```
 */
export function addBlockResources(_site: Site): void {}
