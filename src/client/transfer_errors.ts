/**
 * Why the client refused a block-wise response: it broke a limit the caller
 * set, or it broke RFC 7959's rules for the blocks it carries.
 * @module
 */

/** The client's limits on what a server can make it receive. */
export type TransferLimit = "maxBodySize" | "transferTimeout";

/**
 * A block-wise response went over one of the client's limits; the transfer
 * was stopped there and nothing more is fetched.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TransferLimitError } from "./transfer_errors.ts";
 * const error = new TransferLimitError("maxBodySize", 16777216, "response body", "Size2 says 419430400");
 * assert.equal(error.message, "response body exceeds maxBodySize 16777216 bytes (Size2 says 419430400)");
 * assert.equal(error.describe("--max-body"), "response body exceeds --max-body 16777216 bytes (Size2 says 419430400)");
 * ```
 */
export class TransferLimitError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "TransferLimitError";

  /**
   * `bound` is in bytes for maxBodySize and in milliseconds for transferTimeout; `subject` is what went over
   * it ("response body"), `detail` how it is known ("Size2 says 419430400").
   */
  constructor(
    readonly limit: TransferLimit,
    readonly bound: number,
    readonly subject: string,
    readonly detail: string,
  ) {
    super("");
    this.message = this.describe(limit);
  }

  /** The message with the limit called `name`, as a command line calls it (`--max-body`). */
  describe(name: string): string {
    const bound = this.limit === "maxBodySize" ? `${this.bound} bytes` : `${this.bound / 1000} s`;
    return `${this.subject} exceeds ${name} ${bound} (${this.detail})`;
  }
}

/**
 * A block that does not continue the transfer as RFC 7959 §2.4 requires: not the block asked for, larger
 * than the size asked for, or not filling its size while saying more follow.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BlockwiseError } from "./transfer_errors.ts";
 * assert.equal(new BlockwiseError("asked for block 1").name, "BlockwiseError");
 * ```
 */
export class BlockwiseError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "BlockwiseError";
}
