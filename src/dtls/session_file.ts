/**
 * Saved DTLS sessions in a JSON file, so that one CLI run resumes the session
 * of the previous one (`--session-file F`).
 * @module
 */
import type { SessionStore } from "../transport/dtls_client.ts";

/**
 * A SessionStore kept in `path` as `{ "identity@host:port": "base64 DER" }`. A missing or
 * unreadable file starts empty; each new session is written through at once (mode 0600: a
 * saved session is as secret as the key it resumes).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionFile } from "../mod.ts";
 * const path = await Deno.makeTempFile();
 * sessionFile(path).set("dev1@127.0.0.1:5684", Uint8Array.of(1, 2, 3));
 * assert.deepEqual(sessionFile(path).get("dev1@127.0.0.1:5684"), Uint8Array.of(1, 2, 3));
 * await Deno.remove(path);
 * ```
 */
export function sessionFile(path: string): SessionStore {
  let saved: Record<string, string> = {};
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(path));
    if (parsed && typeof parsed === "object") saved = parsed;
  } catch {
    // No file yet, or not ours: the first handshake is a full one.
  }
  return {
    get: (key) =>
      typeof saved[key] === "string" ? Uint8Array.from(atob(saved[key]), (c) => c.charCodeAt(0)) : undefined,
    set(key, session) {
      saved[key] = btoa(String.fromCharCode(...session));
      Deno.writeTextFileSync(path, JSON.stringify(saved, null, 2) + "\n", { mode: 0o600 });
    },
  };
}
