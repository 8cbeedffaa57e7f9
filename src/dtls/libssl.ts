/**
 * The system OpenSSL 3 (`libssl.so.3`, `libcrypto.so.3`) through Deno FFI: only
 * the calls DTLS 1.2 over memory BIOs needs, and libcrypto's HMAC, SHA-256 and
 * random bytes for cookies and session keys. No cryptography is written here.
 * @module
 */

const SSL_SYMBOLS = {
  DTLS_method: { parameters: [], result: "pointer" },
  SSL_CTX_new: { parameters: ["pointer"], result: "pointer" },
  SSL_CTX_free: { parameters: ["pointer"], result: "void" },
  SSL_CTX_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_CTX_set_options: { parameters: ["pointer", "u64"], result: "u64" },
  SSL_CTX_set_cipher_list: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_set_psk_client_callback: { parameters: ["pointer", "function"], result: "void" },
  SSL_CTX_set_psk_server_callback: { parameters: ["pointer", "function"], result: "void" },
  SSL_CTX_use_psk_identity_hint: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_set_cookie_generate_cb: { parameters: ["pointer", "function"], result: "void" },
  SSL_CTX_set_cookie_verify_cb: { parameters: ["pointer", "function"], result: "void" },
  SSL_CTX_set_keylog_callback: { parameters: ["pointer", "function"], result: "void" },
  SSL_CTX_use_certificate_chain_file: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_CTX_use_PrivateKey_file: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_CTX_check_private_key: { parameters: ["pointer"], result: "i32" },
  SSL_CTX_load_verify_locations: { parameters: ["pointer", "buffer", "pointer"], result: "i32" },
  SSL_CTX_set_verify: { parameters: ["pointer", "i32", "pointer"], result: "void" },
  SSL_new: { parameters: ["pointer"], result: "pointer" },
  SSL_free: { parameters: ["pointer"], result: "void" },
  SSL_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  SSL_set_bio: { parameters: ["pointer", "pointer", "pointer"], result: "void" },
  SSL_set_connect_state: { parameters: ["pointer"], result: "void" },
  SSL_set_accept_state: { parameters: ["pointer"], result: "void" },
  SSL_do_handshake: { parameters: ["pointer"], result: "i32" },
  SSL_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  SSL_shutdown: { parameters: ["pointer"], result: "i32" },
  SSL_get_error: { parameters: ["pointer", "i32"], result: "i32" },
  SSL_is_init_finished: { parameters: ["pointer"], result: "i32" },
  SSL_session_reused: { parameters: ["pointer"], result: "i32" },
  SSL_get_current_cipher: { parameters: ["pointer"], result: "pointer" },
  SSL_CIPHER_get_name: { parameters: ["pointer"], result: "pointer" },
  SSL_get_psk_identity: { parameters: ["pointer"], result: "pointer" },
  SSL_get1_session: { parameters: ["pointer"], result: "pointer" },
  SSL_set_session: { parameters: ["pointer", "pointer"], result: "i32" },
  SSL_SESSION_free: { parameters: ["pointer"], result: "void" },
  SSL_SESSION_is_resumable: { parameters: ["pointer"], result: "i32" },
  i2d_SSL_SESSION: { parameters: ["pointer", "pointer"], result: "i32" },
  d2i_SSL_SESSION: { parameters: ["pointer", "pointer", "i64"], result: "pointer" },
  SSL_set1_host: { parameters: ["pointer", "buffer"], result: "i32" },
  SSL_get0_param: { parameters: ["pointer"], result: "pointer" },
  SSL_get_verify_result: { parameters: ["pointer"], result: "i64" },
  DTLS_get_data_mtu: { parameters: ["pointer"], result: "usize" },
  DTLSv1_listen: { parameters: ["pointer", "pointer"], result: "i32" },
  DTLS_set_timer_cb: { parameters: ["pointer", "function"], result: "void" },
} as const;

const CRYPTO_SYMBOLS = {
  BIO_s_mem: { parameters: [], result: "pointer" },
  BIO_new: { parameters: ["pointer"], result: "pointer" },
  BIO_ctrl: { parameters: ["pointer", "i32", "i64", "pointer"], result: "i64" },
  BIO_read: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_write: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  BIO_ADDR_new: { parameters: [], result: "pointer" },
  BIO_ADDR_free: { parameters: ["pointer"], result: "void" },
  ERR_get_error: { parameters: [], result: "u64" },
  ERR_error_string_n: { parameters: ["u64", "buffer", "usize"], result: "void" },
  ERR_clear_error: { parameters: [], result: "void" },
  X509_VERIFY_PARAM_set1_ip_asc: { parameters: ["pointer", "buffer"], result: "i32" },
  X509_verify_cert_error_string: { parameters: ["i64"], result: "pointer" },
  EVP_sha256: { parameters: [], result: "pointer" },
  HMAC: {
    parameters: ["pointer", "buffer", "i32", "buffer", "usize", "buffer", "buffer"],
    result: "pointer",
  },
  SHA256: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  RAND_bytes: { parameters: ["buffer", "i32"], result: "i32" },
  CRYPTO_memcmp: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
} as const;

/** Numbers behind OpenSSL's macros (openssl/ssl.h, openssl/bio.h, openssl/tls1.h). */
export const Ctrl = {
  SET_MTU: 17,
  SET_SESS_CACHE_MODE: 44,
  GET_TIMEOUT: 73,
  HANDLE_TIMEOUT: 74,
  SET_MIN_PROTO_VERSION: 123,
  SET_MAX_PROTO_VERSION: 124,
  BIO_RESET: 1,
  BIO_PENDING: 10,
  BIO_SET_MEM_EOF_RETURN: 130,
} as const;

/** SSL_get_error() results. */
export const SslError = { SSL: 1, WANT_READ: 2, WANT_WRITE: 3, SYSCALL: 5, ZERO_RETURN: 6 } as const;

/** DTLS 1.2's wire version (RFC 6347 §4.1). */
export const DTLS1_2_VERSION = 0xfefd;
/** SSL_OP_NO_QUERY_MTU | SSL_OP_COOKIE_EXCHANGE: the MTU is ours, and the server verifies cookies. */
export const OP_NO_QUERY_MTU = 1n << 12n;
export const OP_COOKIE_EXCHANGE = 1n << 13n;
/** SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT. */
export const VERIFY_PEER = 1;
export const VERIFY_FAIL_IF_NO_PEER_CERT = 2;
/** SSL_FILETYPE_PEM. */
export const FILETYPE_PEM = 1;
/** SSL_SESS_CACHE_CLIENT. */
export const SESS_CACHE_CLIENT = 1;

type Ssl = Deno.DynamicLibrary<typeof SSL_SYMBOLS>["symbols"];
type Crypto = Deno.DynamicLibrary<typeof CRYPTO_SYMBOLS>["symbols"];

/** Both libraries' symbols. */
export type OpenSsl = Ssl & Crypto;

let loaded: OpenSsl | undefined;

/** The library file names tried in order: Debian's first, then the unversioned names. */
const CANDIDATES = [
  ["libcrypto.so.3", "libssl.so.3"],
  ["/usr/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.3"],
  ["libcrypto.so", "libssl.so"],
];

/**
 * Loads OpenSSL 3 once. Throws an Error naming the library when it is missing
 * (Debian: `apt install libssl3`) or when FFI is not allowed (`--allow-ffi`).
 */
export function openSsl(): OpenSsl {
  if (loaded) return loaded;
  let lastError: unknown;
  for (const [crypto, ssl] of CANDIDATES) {
    try {
      const cryptoLib = Deno.dlopen(crypto, CRYPTO_SYMBOLS);
      const sslLib = Deno.dlopen(ssl, SSL_SYMBOLS);
      loaded = { ...cryptoLib.symbols, ...sslLib.symbols };
      return loaded;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new Error("DTLS needs OpenSSL through FFI: run deno with --allow-ffi");
      }
      lastError = error;
    }
  }
  throw new Error(`DTLS needs OpenSSL 3 (libssl.so.3; Debian: apt install libssl3): ${lastError}`);
}

/** A NUL-terminated copy of a string, for `buffer` parameters. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Empties OpenSSL's error queue and returns its first entry as text ("" when it was empty). */
export function takeError(ssl: OpenSsl): string {
  const code = ssl.ERR_get_error();
  let text = "";
  if (code !== 0n) {
    const buffer = new Uint8Array(256);
    ssl.ERR_error_string_n(code, buffer, 256n);
    text = new TextDecoder().decode(buffer.subarray(0, buffer.indexOf(0)));
  }
  ssl.ERR_clear_error();
  return text;
}

const SHA256_LENGTH = 32;

/** HMAC-SHA-256 of `data` under `key` (libcrypto's HMAC). */
export function hmacSha256(ssl: OpenSsl, key: Uint8Array, data: Uint8Array): Uint8Array {
  const mac = new Uint8Array(SHA256_LENGTH);
  const length = new Uint32Array(1);
  const result = ssl.HMAC(ssl.EVP_sha256(), key, key.length, data, BigInt(data.length), mac, length);
  if (result === null) throw new Error(`HMAC failed: ${takeError(ssl)}`);
  return mac;
}

/** SHA-256 of `data` (libcrypto's SHA256). */
export function sha256(ssl: OpenSsl, data: Uint8Array): Uint8Array {
  const digest = new Uint8Array(SHA256_LENGTH);
  if (ssl.SHA256(data, BigInt(data.length), digest) === null) throw new Error("SHA256 failed");
  return digest;
}

/** `length` bytes from OpenSSL's CSPRNG (RAND_bytes). */
export function randomBytes(ssl: OpenSsl, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  if (ssl.RAND_bytes(bytes, length) !== 1) throw new Error(`RAND_bytes failed: ${takeError(ssl)}`);
  return bytes;
}

/** Whether `a` and `b` hold the same bytes, in time that depends only on their length (CRYPTO_memcmp). */
export function constantTimeEqual(ssl: OpenSsl, a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && ssl.CRYPTO_memcmp(a, b, BigInt(a.length)) === 0;
}

/** Reads a C string, or "" for NULL. */
export function readCString(pointer: Deno.PointerValue): string {
  return pointer === null ? "" : Deno.UnsafePointerView.getCString(pointer);
}
