/** A mistake in how a command was called; the CLI prints it and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit codes of the client commands. */
export const EXIT_OK = 0;
/** The server answered 4.xx or 5.xx. */
export const EXIT_ERROR_RESPONSE = 1;
/** Usage errors and malformed input. */
export const EXIT_USAGE = 2;
/** No response in time, or the server reset the request. */
export const EXIT_NO_RESPONSE = 3;
