/**
 * One DTLS association over two memory BIOs: datagrams in, records out, no
 * socket. The transport around it decides where datagrams come from and go.
 * @module
 */
import type { Clock, TimerHandle } from "../endpoint/clock.ts";
import type { DtlsContext } from "./context.ts";
import { cString, Ctrl, type OpenSsl, readCString, SslError, takeError } from "./libssl.ts";

/** The DTLS record header: type, version, epoch, sequence number, length (RFC 6347 §4.1). */
const RECORD_HEADER = 13;
/** The largest record OpenSSL writes, plus headroom: one read buffer serves every session. */
const READ_BUFFER = new Uint8Array(17_408);
const TIMEVAL = new BigInt64Array(2);

/** A failed DTLS session: `reason` is OpenSSL's, or the peer's alert. */
export class DtlsError extends Error {
  /** The error's name, as logs and stack traces show it. */
  override name = "DtlsError";
}

/** What a session's SSL object is doing. */
export type SessionState = "handshaking" | "established" | "closed";

/** A DTLS session: feed it datagrams, take its datagrams, read and write CoAP messages. */
export class DtlsSession {
  readonly ssl: Deno.PointerObject;
  readonly #lib: OpenSsl;
  readonly #context: DtlsContext;
  readonly #rbio: Deno.PointerObject;
  readonly #wbio: Deno.PointerObject;
  readonly #mtu: number;
  #state: SessionState = "handshaking";
  #freed = false;

  private constructor(context: DtlsContext, ssl: Deno.PointerObject, mtu: number) {
    this.#lib = context.lib;
    this.#context = context;
    this.ssl = ssl;
    this.#mtu = mtu;
    const lib = this.#lib;
    this.#rbio = lib.BIO_new(lib.BIO_s_mem())!;
    this.#wbio = lib.BIO_new(lib.BIO_s_mem())!;
    // An empty read BIO means "wait for more", not end of file.
    lib.BIO_ctrl(this.#rbio, Ctrl.BIO_SET_MEM_EOF_RETURN, -1n, null);
    lib.SSL_set_bio(ssl, this.#rbio, this.#wbio);
    // The largest datagram: OpenSSL subtracts the record overhead itself.
    lib.SSL_ctrl(ssl, Ctrl.SET_MTU, BigInt(mtu), null);
    if (context.timerCallback) lib.DTLS_set_timer_cb(ssl, context.timerCallback);
  }

  /** A client session; `resume` is a session saved by an earlier one (`saveSession`). */
  static client(context: DtlsContext, mtu: number, serverName?: string, resume?: Uint8Array): DtlsSession {
    const lib = context.lib;
    const ssl = lib.SSL_new(context.ctx);
    if (ssl === null) throw new DtlsError(`SSL_new failed: ${takeError(lib)}`);
    const session = new DtlsSession(context, ssl, mtu);
    lib.SSL_set_connect_state(ssl);
    if (serverName !== undefined) session.#verifyName(serverName);
    if (resume) session.#resume(resume);
    return session;
  }

  /** A server session for an SSL object whose ClientHello carried a valid cookie. */
  static accepted(context: DtlsContext, ssl: Deno.PointerObject, mtu: number): DtlsSession {
    const session = new DtlsSession(context, ssl, mtu);
    context.lib.SSL_set_accept_state(ssl);
    return session;
  }

  /** A spare server SSL for DTLSv1_listen; `listen()` turns it into a session. */
  static listener(context: DtlsContext, mtu: number): DtlsSession {
    const lib = context.lib;
    const ssl = lib.SSL_new(context.ctx);
    if (ssl === null) throw new DtlsError(`SSL_new failed: ${takeError(lib)}`);
    const session = new DtlsSession(context, ssl, mtu);
    lib.SSL_set_accept_state(ssl);
    return session;
  }

  get state(): SessionState {
    return this.#state;
  }

  /**
   * DTLSv1_listen on one datagram (a spare listener only): true when it was a ClientHello with a
   * valid cookie, after which this object is that client's session. Otherwise it keeps no state
   * about the sender; a HelloVerifyRequest may be waiting in `takeDatagrams()`.
   */
  listen(datagram: Uint8Array, peer: string): boolean {
    const lib = this.#lib;
    this.#context.currentPeer = peer;
    lib.BIO_write(this.#rbio, datagram, datagram.length);
    const address = lib.BIO_ADDR_new();
    const result = lib.DTLSv1_listen(this.ssl, address);
    lib.BIO_ADDR_free(address);
    // Garbage leaves errors on the queue, and unread bytes would be taken for the next sender's.
    lib.ERR_clear_error();
    if (result <= 0) lib.BIO_ctrl(this.#rbio, Ctrl.BIO_RESET, 0n, null);
    return result === 1;
  }

  /**
   * Processes one datagram (OpenSSL loses both halves of two datagrams queued together when one is
   * truncated, so they go in one at a time). Returns the application data it carried.
   */
  receive(datagram: Uint8Array, peer: string): Uint8Array[] {
    if (this.#state === "closed") return [];
    this.#context.currentPeer = peer;
    this.#lib.BIO_write(this.#rbio, datagram, datagram.length);
    return this.#advance();
  }

  /** Continues a handshake with nothing new (the first ClientHello, or after the listener's). */
  start(): Uint8Array[] {
    return this.#advance();
  }

  /** Encrypts one CoAP message into records waiting in `takeDatagrams()`. */
  write(plaintext: Uint8Array): void {
    if (this.#state !== "established") throw new DtlsError("the DTLS session is not established");
    const written = this.#lib.SSL_write(this.ssl, plaintext, plaintext.length);
    if (written !== plaintext.length) throw new DtlsError(`SSL_write failed: ${takeError(this.#lib)}`);
  }

  /** Everything OpenSSL wrote, packed into datagrams of at most the MTU without splitting a record. */
  takeDatagrams(): Uint8Array[] {
    const lib = this.#lib;
    const pending = Number(lib.BIO_ctrl(this.#wbio, Ctrl.BIO_PENDING, 0n, null));
    if (pending <= 0) return [];
    const bytes = new Uint8Array(pending);
    lib.BIO_read(this.#wbio, bytes, pending);
    const datagrams: Uint8Array[] = [];
    let start = 0;
    let at = 0;
    while (at + RECORD_HEADER <= bytes.length) {
      const end = at + RECORD_HEADER + ((bytes[at + 11] << 8) | bytes[at + 12]);
      if (end - start > this.#mtu && at > start) {
        datagrams.push(bytes.subarray(start, at));
        start = at;
      }
      at = end;
    }
    if (start < bytes.length) datagrams.push(bytes.subarray(start));
    return datagrams;
  }

  /** Milliseconds until OpenSSL wants to retransmit a flight, or undefined when no timer runs. */
  retransmitIn(): number | undefined {
    if (this.#state !== "handshaking") return undefined;
    const running = this.#lib.SSL_ctrl(this.ssl, Ctrl.GET_TIMEOUT, 0n, Deno.UnsafePointer.of(TIMEVAL));
    if (running !== 1n) return undefined;
    return Number(TIMEVAL[0]) * 1000 + Math.ceil(Number(TIMEVAL[1]) / 1000);
  }

  /** Retransmits the last flight if its timer expired (RFC 6347 §4.2.4). */
  handleTimeout(): void {
    if (this.#state !== "handshaking") return;
    this.#lib.SSL_ctrl(this.ssl, Ctrl.HANDLE_TIMEOUT, 0n, null);
    this.#lib.ERR_clear_error();
  }

  /** The negotiated cipher suite's OpenSSL name. */
  get cipher(): string {
    return readCString(this.#lib.SSL_CIPHER_get_name(this.#lib.SSL_get_current_cipher(this.ssl)));
  }

  /** True when the handshake resumed an earlier session (an abbreviated handshake). */
  get resumed(): boolean {
    return this.#lib.SSL_session_reused(this.ssl) === 1;
  }

  /** The PSK identity the peer used ("" with certificates). */
  get pskIdentity(): string {
    return readCString(this.#lib.SSL_get_psk_identity(this.ssl));
  }

  /** The largest CoAP message one record of this session carries within the MTU. */
  get dataMtu(): number {
    return Number(this.#lib.DTLS_get_data_mtu(this.ssl));
  }

  /** The session in DER, for resuming it later (undefined when it cannot be resumed). */
  saveSession(): Uint8Array | undefined {
    const lib = this.#lib;
    const session = lib.SSL_get1_session(this.ssl);
    if (session === null) return undefined;
    try {
      if (lib.SSL_SESSION_is_resumable(session) !== 1) return undefined;
      const length = lib.i2d_SSL_SESSION(session, null);
      if (length <= 0) return undefined;
      const der = new Uint8Array(length);
      lib.i2d_SSL_SESSION(session, cursorAt(der));
      return der;
    } finally {
      lib.SSL_SESSION_free(session);
    }
  }

  /** Sends close_notify (queued in `takeDatagrams()`): without it the session is not resumable. */
  shutdown(): void {
    if (this.#state === "established") this.#lib.SSL_shutdown(this.ssl);
    this.#lib.ERR_clear_error();
    this.#state = "closed";
  }

  /** Frees the SSL object and its BIOs. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#state = "closed";
    this.#lib.SSL_free(this.ssl);
  }

  #advance(): Uint8Array[] {
    const lib = this.#lib;
    if (this.#state === "handshaking") {
      const result = lib.SSL_do_handshake(this.ssl);
      if (result !== 1) {
        const error = lib.SSL_get_error(this.ssl, result);
        if (error === SslError.WANT_READ || error === SslError.WANT_WRITE) return [];
        this.#state = "closed";
        throw new DtlsError(takeError(lib) || "handshake failed");
      }
      this.#state = "established";
    }
    const messages: Uint8Array[] = [];
    while (this.#state === "established") {
      const read = lib.SSL_read(this.ssl, READ_BUFFER, READ_BUFFER.length);
      if (read > 0) {
        messages.push(READ_BUFFER.slice(0, read));
        continue;
      }
      const error = lib.SSL_get_error(this.ssl, read);
      if (error === SslError.ZERO_RETURN) {
        // close_notify from the peer: answer it and end.
        this.shutdown();
      } else if (error !== SslError.WANT_READ && error !== SslError.WANT_WRITE) {
        this.#state = "closed";
        takeError(lib);
      }
      break;
    }
    // Replayed or corrupt records are dropped by OpenSSL; nothing of them stays on the queue.
    lib.ERR_clear_error();
    return messages;
  }

  #verifyName(serverName: string): void {
    const lib = this.#lib;
    const isIp = /^[\d.]+$/.test(serverName) || serverName.includes(":");
    const ok = isIp
      ? lib.X509_VERIFY_PARAM_set1_ip_asc(lib.SSL_get0_param(this.ssl), cString(serverName))
      : lib.SSL_set1_host(this.ssl, cString(serverName));
    if (ok !== 1) throw new DtlsError(`cannot verify the name ${serverName}: ${takeError(lib)}`);
  }

  #resume(der: Uint8Array): void {
    const lib = this.#lib;
    const copy = new Uint8Array(der);
    const session = lib.d2i_SSL_SESSION(null, cursorAt(copy), BigInt(copy.length));
    if (session === null) {
      takeError(lib); // A stale or foreign file: a full handshake instead.
      return;
    }
    lib.SSL_set_session(this.ssl, session);
    lib.SSL_SESSION_free(session);
  }
}

/** i2d/d2i advance the pointer they are given: a pointer to a pointer at `bytes`, theirs to move. */
function cursorAt(bytes: Uint8Array<ArrayBuffer>): Deno.PointerObject {
  return Deno.UnsafePointer.of(
    new BigUint64Array([BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)))]),
  )!;
}

/**
 * The one timer a handshaking session needs: at OpenSSL's next flight retransmission (which it then sends
 * through `retransmitted`, before `rearm`) or at `deadline`, whichever comes first.
 */
export function handshakeTimer(
  clock: Clock,
  session: DtlsSession,
  deadline: number,
  handlers: { expired(): void; retransmitted(datagrams: Uint8Array[]): void; rearm(): void },
): TimerHandle {
  const retransmit = session.retransmitIn();
  const at = Math.min(deadline, retransmit === undefined ? Infinity : clock.now() + retransmit);
  return clock.setTimer(() => {
    if (clock.now() >= deadline) return handlers.expired();
    session.handleTimeout();
    handlers.retransmitted(session.takeDatagrams());
    handlers.rearm();
  }, Math.max(0, at - clock.now()));
}
