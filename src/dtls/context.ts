/**
 * An OpenSSL DTLS 1.2 context (SSL_CTX) for one role and one set of
 * credentials: cipher suites, PSK and certificate callbacks, cookies, key log.
 * @module
 */
import {
  constantTimeEqual,
  cString,
  Ctrl,
  DTLS1_2_VERSION,
  FILETYPE_PEM,
  hmacSha256,
  OP_COOKIE_EXCHANGE,
  OP_NO_QUERY_MTU,
  type OpenSsl,
  openSsl,
  randomBytes,
  readCString,
  SESS_CACHE_CLIENT,
  takeError,
  VERIFY_FAIL_IF_NO_PEER_CERT,
  VERIFY_PEER,
} from "./libssl.ts";

/**
 * RFC 7252 §9.1.3.1 makes TLS_PSK_WITH_AES_128_CCM_8 mandatory; ECDHE-PSK with ChaCha20 is
 * what libcoap negotiates by default, and adds forward secrecy. Never OpenSSL's default list:
 * with it a GnuTLS server picks a certificate suite it has no certificate for.
 */
export const PSK_CIPHERS = "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-CCM8";
/** RFC 7252 §9.1.3.3's TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, and its AES-GCM sibling. */
export const CERTIFICATE_CIPHERS = "ECDHE-ECDSA-AES128-CCM8:ECDHE-ECDSA-AES128-GCM-SHA256";

/** Certificate files, PEM. */
export interface CertificateFiles {
  /** This side's certificate chain. */
  cert?: string;
  /** Its private key. */
  key?: string;
  /** CA certificates the peer's certificate must chain to; a server given one requires client certificates. */
  ca?: string;
}

/** What a DTLS server accepts. */
export interface DtlsServerCredentials extends CertificateFiles {
  /** One pre-shared key for every identity (libcoap's `-k`). */
  psk?: Uint8Array;
  /** Keys by identity; an identity not listed fails the handshake. */
  pskKeys?: Record<string, Uint8Array>;
  /** The identity hint sent in ServerKeyExchange. */
  pskHint?: string;
}

/** What a DTLS client presents. */
export interface DtlsClientCredentials extends CertificateFiles {
  /** The PSK identity and key. */
  psk?: { identity: string; key: Uint8Array };
}

/** How a context behaves beyond its credentials. */
export interface ContextTuning {
  /** Receives each NSS key log line (SSLKEYLOGFILE format), for Wireshark. */
  keylog?: (line: string) => void;
  /** The first handshake retransmission timeout in ms, doubled up to 60 s (RFC 6347 §4.2.4.1: 1 s). */
  initialTimeout?: number;
}

const COOKIE_LENGTH = 16;
const COOKIE_SECRET_LENGTH = 32;
const MAX_TIMEOUT_US = 60_000_000;
/** Cookie secrets rotate; a cookie made with the previous secret still verifies. */
const COOKIE_SECRET_LIFETIME_MS = 300_000;

/** A DTLS 1.2 SSL_CTX with its callbacks; close() frees the context before the callbacks. */
export class DtlsContext {
  readonly lib: OpenSsl;
  readonly ctx: Deno.PointerObject;
  /** The peer whose datagram is being processed: cookies are bound to it (set by the transport). */
  currentPeer = "";
  /** DTLS_timer_cb: the retransmission timeouts, installed on every session. */
  timerCallback: Deno.PointerObject | null = null;
  readonly #callbacks: Deno.UnsafeCallback[] = [];
  #secrets: Uint8Array[];
  #secretSince = Date.now();

  private constructor(lib: OpenSsl, ctx: Deno.PointerObject) {
    this.lib = lib;
    this.ctx = ctx;
    this.#secrets = [randomBytes(lib, COOKIE_SECRET_LENGTH)];
  }

  /** A server context: PSK and/or certificates, cookie exchange always on. */
  static server(credentials: DtlsServerCredentials, tuning: ContextTuning = {}): DtlsContext {
    const context = DtlsContext.#create(tuning);
    const { lib, ctx } = context;
    const suites: string[] = [];
    if (credentials.psk || credentials.pskKeys) {
      suites.push(PSK_CIPHERS);
      const keys = credentials.pskKeys;
      const single = credentials.psk;
      context.#callback(
        { parameters: ["pointer", "pointer", "pointer", "u32"], result: "u32" },
        (_ssl, identityPointer, pskPointer, max) => {
          const identity = readCString(identityPointer);
          const key = keys ? (Object.hasOwn(keys, identity) ? keys[identity] : undefined) : single;
          if (!key || key.length > (max as number) || pskPointer === null) return 0;
          new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pskPointer, key.length)).set(key);
          return key.length;
        },
        (pointer) => lib.SSL_CTX_set_psk_server_callback(ctx, pointer),
      );
      if (credentials.pskHint !== undefined) {
        check(lib, lib.SSL_CTX_use_psk_identity_hint(ctx, cString(credentials.pskHint)), "PSK hint", context);
      }
    }
    if (credentials.cert || credentials.key) {
      suites.push(CERTIFICATE_CIPHERS);
      context.#useCertificate(credentials);
    }
    if (credentials.ca) {
      check(lib, lib.SSL_CTX_load_verify_locations(ctx, cString(credentials.ca), null), credentials.ca);
      lib.SSL_CTX_set_verify(ctx, VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT, null);
    }
    if (suites.length === 0) context.#fail("a DTLS server needs a PSK or a certificate");
    context.#ciphers(suites.join(":"));
    lib.SSL_CTX_set_options(ctx, OP_COOKIE_EXCHANGE);
    context.#callback(
      { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
      (_ssl, cookie, lengthPointer) => {
        if (cookie === null || lengthPointer === null) return 0;
        const mac = context.#cookie(context.#currentSecret());
        new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(cookie, COOKIE_LENGTH)).set(mac);
        new DataView(Deno.UnsafePointerView.getArrayBuffer(lengthPointer, 4)).setUint32(
          0,
          COOKIE_LENGTH,
          true,
        );
        return 1;
      },
      (pointer) => lib.SSL_CTX_set_cookie_generate_cb(ctx, pointer),
    );
    context.#callback(
      { parameters: ["pointer", "pointer", "u32"], result: "i32" },
      (_ssl, cookie, length) => {
        if (cookie === null || length !== COOKIE_LENGTH) return 0;
        const got = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(cookie, COOKIE_LENGTH));
        const matches = (secret: Uint8Array) => constantTimeEqual(lib, got, context.#cookie(secret));
        return context.#secrets.some(matches) ? 1 : 0;
      },
      (pointer) => lib.SSL_CTX_set_cookie_verify_cb(ctx, pointer),
    );
    return context;
  }

  /** A client context; sessions are cached for resumption. */
  static client(credentials: DtlsClientCredentials, tuning: ContextTuning = {}): DtlsContext {
    const context = DtlsContext.#create(tuning);
    const { lib, ctx } = context;
    const suites: string[] = [];
    const psk = credentials.psk;
    if (psk) {
      suites.push(PSK_CIPHERS);
      const identity = new TextEncoder().encode(psk.identity);
      context.#callback(
        { parameters: ["pointer", "pointer", "pointer", "u32", "pointer", "u32"], result: "u32" },
        (_ssl, _hint, identityPointer, maxIdentity, pskPointer, maxPsk) => {
          // maxIdentity excludes the terminating NUL (ssl/statem/statem_clnt.c).
          if (identityPointer === null || pskPointer === null) return 0;
          if (identity.length > (maxIdentity as number) || psk.key.length > (maxPsk as number)) return 0;
          const out = new Uint8Array(
            Deno.UnsafePointerView.getArrayBuffer(identityPointer, identity.length + 1),
          );
          out.set(identity);
          out[identity.length] = 0;
          new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pskPointer, psk.key.length)).set(psk.key);
          return psk.key.length;
        },
        (pointer) => lib.SSL_CTX_set_psk_client_callback(ctx, pointer),
      );
    }
    if (credentials.cert || credentials.key) context.#useCertificate(credentials);
    if (credentials.ca) {
      suites.push(CERTIFICATE_CIPHERS);
      check(lib, lib.SSL_CTX_load_verify_locations(ctx, cString(credentials.ca), null), credentials.ca);
      lib.SSL_CTX_set_verify(ctx, VERIFY_PEER, null);
    }
    // Without a CA, a server certificate could not be verified: certificate suites are not offered.
    if (suites.length === 0) context.#fail("coaps needs a PSK (--psk-identity, --psk) or a CA (--ca)");
    context.#ciphers(suites.join(":"));
    lib.SSL_CTX_ctrl(ctx, Ctrl.SET_SESS_CACHE_MODE, BigInt(SESS_CACHE_CLIENT), null);
    return context;
  }

  static #create({ keylog, initialTimeout = 1000 }: ContextTuning): DtlsContext {
    const lib = openSsl();
    const ctx = lib.SSL_CTX_new(lib.DTLS_method());
    if (ctx === null) throw new Error(`SSL_CTX_new failed: ${takeError(lib)}`);
    const context = new DtlsContext(lib, ctx);
    lib.SSL_CTX_ctrl(ctx, Ctrl.SET_MIN_PROTO_VERSION, BigInt(DTLS1_2_VERSION), null);
    lib.SSL_CTX_ctrl(ctx, Ctrl.SET_MAX_PROTO_VERSION, BigInt(DTLS1_2_VERSION), null);
    // The path MTU is set per session: OpenSSL's probe does not work on memory BIOs (and falls back to 256).
    lib.SSL_CTX_set_options(ctx, OP_NO_QUERY_MTU);
    if (keylog) {
      context.#callback(
        { parameters: ["pointer", "pointer"], result: "void" },
        (_ssl, line) => keylog(readCString(line)),
        (pointer) => lib.SSL_CTX_set_keylog_callback(ctx, pointer),
      );
    }
    context.#callback(
      { parameters: ["pointer", "u32"], result: "u32" },
      (_ssl, previous) =>
        previous === 0 ? initialTimeout * 1000 : Math.min((previous as number) * 2, MAX_TIMEOUT_US),
      (pointer) => context.timerCallback = pointer,
    );
    return context;
  }

  /** Frees the context, then its callbacks (OpenSSL calling a closed callback would crash). */
  close(): void {
    this.lib.SSL_CTX_free(this.ctx);
    for (const callback of this.#callbacks) callback.close();
    this.#callbacks.length = 0;
  }

  /** Installs a callback kept for the context's lifetime; a JS exception inside it returns 0 to OpenSSL. */
  #callback<const D extends Deno.UnsafeCallbackDefinition>(
    definition: D,
    body: Deno.UnsafeCallbackFunction<D["parameters"], D["result"]>,
    install: (pointer: Deno.PointerObject) => void,
  ): void {
    const guarded = ((...args: unknown[]) => {
      try {
        return (body as (...a: unknown[]) => unknown)(...args);
      } catch {
        return definition.result === "void" ? undefined : 0;
      }
    }) as Deno.UnsafeCallbackFunction<D["parameters"], D["result"]>;
    const callback = new Deno.UnsafeCallback(definition, guarded);
    this.#callbacks.push(callback as unknown as Deno.UnsafeCallback);
    install(callback.pointer);
  }

  #useCertificate(files: CertificateFiles): void {
    const { lib, ctx } = this;
    if (!files.cert || !files.key) this.#fail("a certificate needs both --cert and --key");
    check(lib, lib.SSL_CTX_use_certificate_chain_file(ctx, cString(files.cert!)), files.cert!, this);
    check(lib, lib.SSL_CTX_use_PrivateKey_file(ctx, cString(files.key!), FILETYPE_PEM), files.key!, this);
    check(lib, lib.SSL_CTX_check_private_key(ctx), `${files.key} does not match ${files.cert}`, this);
  }

  #ciphers(list: string): void {
    check(this.lib, this.lib.SSL_CTX_set_cipher_list(this.ctx, cString(list)), `cipher list ${list}`, this);
  }

  #fail(message: string): never {
    this.close();
    throw new Error(message);
  }

  #currentSecret(): Uint8Array {
    if (Date.now() - this.#secretSince > COOKIE_SECRET_LIFETIME_MS) {
      this.#secrets = [randomBytes(this.lib, COOKIE_SECRET_LENGTH), this.#secrets[0]];
      this.#secretSince = Date.now();
    }
    return this.#secrets[0];
  }

  /** RFC 6347 §4.2.1: a stateless cookie, HMAC of the client's address under a server secret. */
  #cookie(secret: Uint8Array): Uint8Array {
    const mac = hmacSha256(this.lib, secret, new TextEncoder().encode(this.currentPeer));
    return mac.subarray(0, COOKIE_LENGTH);
  }
}

function check(lib: OpenSsl, result: number, what: string, context?: DtlsContext): void {
  if (result === 1) return;
  const reason = takeError(lib);
  context?.close();
  throw new Error(`OpenSSL rejected ${what}${reason ? `: ${reason}` : ""}`);
}
