/** The coaps flags: keys, certificates, saved sessions, key log; for `serve` and for the client commands. */
import type { DtlsClientOptions, Handshake } from "../transport/dtls_client.ts";
import type { DtlsServerOptions, DtlsSessionEvent } from "../transport/dtls_server.ts";
import { sessionFile } from "../dtls/session_file.ts";
import { hexToBytes } from "../tools/hex.ts";
import { type Address, addressKey } from "../transport/transport.ts";
import { portFlag, secondsFlag } from "./flag_values.ts";
import { UsageError } from "./usage_error.ts";

const KEY_FLAGS = {
  psk: { type: "string" },
  "psk-hex": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  ca: { type: "string" },
  keylog: { type: "string" },
} as const;

/** The client's coaps flags, for parseFlags. */
export const CLIENT_DTLS_FLAGS = {
  ...KEY_FLAGS,
  "psk-identity": { type: "string" },
  "session-file": { type: "string" },
  "handshake-timeout": { type: "string" },
} as const;

/** The server's coaps flags, for parseFlags. */
export const SERVER_DTLS_FLAGS = {
  ...KEY_FLAGS,
  "dtls-port": { type: "string" },
  "psk-file": { type: "string" },
  "psk-hint": { type: "string" },
} as const;

/** Their usage text. */
export const CLIENT_DTLS_USAGE =
  `coaps://: --psk-identity ID --psk KEY | --psk-hex HEX   or --ca F [--cert F --key F]
    --session-file F (resume across runs)  --keylog F  --handshake-timeout S (10)`;
export const SERVER_DTLS_USAGE =
  `coaps://: --dtls-port P (5684) with --psk KEY | --psk-hex HEX | --psk-file F.json
    [--psk-hint H], or --cert F --key F [--ca F: client certificates required]  --keylog F`;

type KeyFlags = {
  psk?: string;
  "psk-hex"?: string;
  cert?: string;
  key?: string;
  ca?: string;
  keylog?: string;
};
/** The values parseFlags gives for CLIENT_DTLS_FLAGS. */
export type ClientDtlsFlags = KeyFlags & {
  "psk-identity"?: string;
  "session-file"?: string;
  "handshake-timeout"?: string;
};
/** The values parseFlags gives for SERVER_DTLS_FLAGS. */
export type ServerDtlsFlags = KeyFlags & { "dtls-port"?: string; "psk-file"?: string; "psk-hint"?: string };

/**
 * The client's DTLS options from its flags; undefined when none is given (a coaps URI is then refused
 * with a usage error). `show` receives the handshake lines --trace and --verbose print.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientDtlsOptions } from "./dtls_flags.ts";
 * const options = clientDtlsOptions({ "psk-identity": "dev1", psk: "secret" });
 * assert.equal(options?.psk?.identity, "dev1");
 * assert.throws(() => clientDtlsOptions({ psk: "secret" }), /--psk-identity/);
 * ```
 */
export function clientDtlsOptions(
  values: ClientDtlsFlags,
  show?: (line: string) => void,
): DtlsClientOptions | undefined {
  const key = pskFlag(values);
  const identity = values["psk-identity"];
  if ((key === undefined) !== (identity === undefined)) {
    throw new UsageError("--psk-identity and --psk (or --psk-hex) go together");
  }
  if (key === undefined && values.ca === undefined && values.cert === undefined) return undefined;
  return {
    psk: key && identity !== undefined ? { identity, key } : undefined,
    ...certificateFlags(values),
    handshakeTimeout: values["handshake-timeout"] === undefined
      ? undefined
      : secondsFlag("handshake-timeout", values["handshake-timeout"]),
    sessions: values["session-file"] === undefined ? undefined : sessionFile(values["session-file"]),
    keylog: keylogFlag(values.keylog),
    onHandshake: show && ((address, handshake) => show(handshakeLine(address, handshake))),
  };
}

/** The server's DTLS options from its flags; undefined when no coaps flag is given. */
export function serverDtlsOptions(
  values: ServerDtlsFlags,
  show?: (line: string) => void,
): (DtlsServerOptions & { port: number }) | undefined {
  const psk = pskFlag(values);
  const pskKeys = values["psk-file"] === undefined ? undefined : pskFile(values["psk-file"]);
  const certificates = certificateFlags(values);
  if (psk === undefined && pskKeys === undefined && certificates.cert === undefined) {
    if (values["dtls-port"] !== undefined) {
      throw new UsageError("--dtls-port needs --psk, --psk-hex, --psk-file or --cert and --key");
    }
    return undefined;
  }
  if (psk !== undefined && pskKeys !== undefined) throw new UsageError("give --psk or --psk-file, not both");
  return {
    port: values["dtls-port"] === undefined ? 5684 : portFlag("dtls-port", values["dtls-port"]),
    psk,
    pskKeys,
    pskHint: values["psk-hint"],
    ...certificates,
    keylog: keylogFlag(values.keylog),
    onSession: show && ((event) => show(sessionLine(event))),
  };
}

/** "DTLS 127.0.0.1:5684: ECDHE-PSK-CHACHA20-POLY1305, full handshake, 3 round trips, 2.1 ms". */
export function handshakeLine(address: Address, handshake: Handshake): string {
  const kind = handshake.resumed ? "resumed" : "full handshake";
  const trips = `${handshake.roundTrips} round trip${handshake.roundTrips === 1 ? "" : "s"}`;
  return `DTLS ${addressKey(address)}: ${handshake.cipher}, ${kind}, ${trips}, ` +
    `${handshake.milliseconds.toFixed(1)} ms, data MTU ${handshake.dataMtu} B`;
}

/** A server session event as `serve` logs it. */
export function sessionLine(event: DtlsSessionEvent): string {
  const who = addressKey(event.address);
  if (event.kind === "established") {
    const identity = event.identity ? ` identity "${event.identity}"` : "";
    return `DTLS ${who}: session up, ${event.cipher}${event.resumed ? ", resumed" : ""}${identity}`;
  }
  return `DTLS ${who}: ${event.kind}${event.reason ? ` (${event.reason})` : ""}`;
}

function pskFlag(values: KeyFlags): Uint8Array | undefined {
  if (values.psk !== undefined && values["psk-hex"] !== undefined) {
    throw new UsageError("give --psk or --psk-hex, not both");
  }
  if (values["psk-hex"] !== undefined) {
    let key: Uint8Array;
    try {
      key = hexToBytes(values["psk-hex"]);
    } catch (error) {
      throw new UsageError(`--psk-hex ${values["psk-hex"]}: ${(error as Error).message}`);
    }
    if (key.length === 0) throw new UsageError("--psk-hex: the key is empty");
    return key;
  }
  if (values.psk === "") throw new UsageError("--psk: the key is empty");
  return values.psk === undefined ? undefined : new TextEncoder().encode(values.psk);
}

/** `{ "identity": "key" }`, keys as UTF-8 text; an identity not in the file fails its handshake. */
function pskFile(path: string): Record<string, Uint8Array> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    throw new UsageError(`--psk-file ${path}: ${(error as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(`--psk-file ${path}: expected a JSON object { "identity": "key" }`);
  }
  const keys: Record<string, Uint8Array> = Object.create(null);
  for (const [identity, key] of Object.entries(parsed)) {
    if (typeof key !== "string" || key === "") {
      throw new UsageError(`--psk-file ${path}: the key of "${identity}" is not a non-empty string`);
    }
    keys[identity] = new TextEncoder().encode(key);
  }
  return keys;
}

function certificateFlags(values: KeyFlags): { cert?: string; key?: string; ca?: string } {
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new UsageError("--cert and --key go together");
  }
  for (const flag of ["cert", "key", "ca"] as const) {
    const path = values[flag];
    if (path === undefined) continue;
    try {
      Deno.statSync(path);
    } catch (error) {
      throw new UsageError(`--${flag} ${path}: ${(error as Error).message}`);
    }
  }
  return { cert: values.cert, key: values.key, ca: values.ca };
}

/** NSS key log lines (SSLKEYLOGFILE), appended: Wireshark and `tshark -o tls.keylog_file:F` read them. */
function keylogFlag(path: string | undefined): ((line: string) => void) | undefined {
  if (path === undefined) return undefined;
  try {
    Deno.writeTextFileSync(path, "", { append: true, mode: 0o600 });
  } catch (error) {
    throw new UsageError(`--keylog ${path}: ${(error as Error).message}`);
  }
  return (line) => Deno.writeTextFileSync(path, line + "\n", { append: true });
}
