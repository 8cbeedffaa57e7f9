/**
 * Numbers with their units for `overhead`'s tables: the unit is picked by
 * magnitude so that a figure never hides behind leading zeros.
 * @module
 */

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const significant = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 4 });

/**
 * Four significant digits, or a whole number with thousands separators from 1000 up.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNumber } from "./overhead_format.ts";
 * assert.equal(formatNumber(0.0042667), "0.004267");
 * assert.equal(formatNumber(36621.09), "36,621");
 * ```
 */
export function formatNumber(value: number): string {
  return Math.abs(value) >= 1000 ? grouped.format(value) : significant.format(value);
}

/**
 * A duration given in ms, as ms below a second and as s above.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAirtime } from "./overhead_format.ts";
 * assert.equal(formatAirtime(0.768), "0.768 ms");
 * assert.equal(formatAirtime(1500), "1.5 s");
 * ```
 */
export function formatAirtime(ms: number): string {
  return ms < 1000 ? `${formatNumber(ms)} ms` : `${formatNumber(ms / 1000)} s`;
}

/**
 * A charge given in µAh, as nAh, µAh or mAh by magnitude.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatCharge } from "./overhead_format.ts";
 * assert.equal(formatCharge(0.0042667), "4.267 nAh");
 * ```
 */
export function formatCharge(uAh: number): string {
  if (uAh < 1) return `${formatNumber(uAh * 1000)} nAh`;
  if (uAh < 1000) return `${formatNumber(uAh)} µAh`;
  return `${formatNumber(uAh / 1000)} mAh`;
}

/**
 * A battery life given in days; a year or more is shown in years with the days beside it.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLife } from "./overhead_format.ts";
 * assert.equal(formatLife(36621.09, 100.263), "100.3 years (36,621 days)");
 * ```
 */
export function formatLife(days: number, years: number): string {
  return years < 1
    ? `${formatNumber(days)} days`
    : `${formatNumber(years)} years (${grouped.format(days)} days)`;
}
