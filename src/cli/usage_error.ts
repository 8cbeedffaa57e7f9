/** A mistake in how a command was called; the CLI prints it and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit code for usage errors and malformed input. */
export const EXIT_USAGE = 2;
