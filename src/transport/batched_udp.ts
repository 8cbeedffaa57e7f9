/**
 * UDP on Linux through libc's recvmmsg(2)/sendmmsg(2): up to 64 datagrams per
 * receive call and a whole batch per send call, where Deno.listenDatagram
 * costs one async op per datagram. ICMP errors (IP_RECVERR, ip(7)) are read
 * from the socket's error queue and reported per destination.
 * @module
 */
import { allocateBytes } from "../bytes.ts";
import { addressOf, C, errno, isIpAddress, Layout, libc, readSockaddr, writeSockaddr } from "./libc.ts";
import type { Address, Datagram, Transport, UnreachableReason } from "./transport.ts";
import type { UdpOptions } from "./udp.ts";

/** The largest UDP payload over IPv4 and IPv6 without jumbograms. */
const MAX_DATAGRAM = 65535;
/** Datagrams taken per recvmmsg call. */
const RECEIVE_BATCH = 64;
/**
 * How many times in a row a busy socket is read without waiting in poll(2): at ~100k datagrams/s, 32 rounds
 * keep timers and other sockets waiting a few milliseconds at most. loadgen, 32 in flight: 100k req/s with no
 * draining, 111k with 8 rounds, 113–128k with 32 or 64.
 */
const DRAIN_ROUNDS = 32;
/**
 * How long the socket is read again after a batch, per datagram in it, before the loop sleeps in poll(2):
 * busy polling, where a wake-up from the worker thread would cost more. A batch's own processing takes about
 * 6 µs a datagram, so reading on costs at most a few times the work done, and an idle socket nothing.
 * loadgen, 32 in flight, one client port on a 2-core VM: 96k req/s without it, 138–150k with 5–20 µs.
 */
const SPIN_MS_PER_DATAGRAM = 0.02;
/** Empty reads between two clock readings while spinning: a read costs less than a clock reading. */
const SPIN_CHECK = 16;
/** Datagrams given per sendmmsg call: UIO_MAXIOV, the kernel's cap on its vlen (sendmmsg(2)). */
const SEND_BATCH = 1024;
/** Where the sender's structs hold the iovecs and the addresses: after SEND_BATCH mmsghdrs, then the iovecs. */
const SEND_IOVECS = SEND_BATCH * Layout.MMSGHDR;
const SEND_NAMES = SEND_IOVECS + SEND_BATCH * Layout.IOVEC;
/** Bytes of datagrams the send arena holds before it grows. */
const SEND_ARENA = 256 * 1024;
/** Room for a sock_extended_err cmsg and the offender's address after it. */
const ERROR_CONTROL = 512;
/** At most this many queued ICMP errors are read per wake-up, so a flood cannot starve the receive loop. */
const ERRORS_PER_DRAIN = 64;

/** Options for a batched UDP transport. */
export interface BatchedUdpOptions extends UdpOptions {
  /** SO_REUSEPORT (socket(7)): several sockets, e.g. one per worker process, share the port. */
  reusePort?: boolean;
  /** Called when an ICMP error says `address` cannot be reached, besides listen()'s own callback. */
  onUnreachable?: (address: Address, reason: UnreachableReason) => void;
}

/**
 * A UDP socket as a Transport, with one libc call per batch (64-bit Linux, `--allow-ffi`). IPv4 and
 * IPv6; "::" also receives IPv4, reported as ::ffff:a.b.c.d as udpTransport() does.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchedUdpTransport, type Datagram } from "../mod.ts";
 * const a = batchedUdpTransport({ hostname: "127.0.0.1", port: 0 }); // 0: any free port
 * const b = batchedUdpTransport({ hostname: "127.0.0.1", port: 0 });
 * const received = new Promise<Datagram[]>((resolve) => b.listen(resolve));
 * const ping = Uint8Array.of(0x40, 0x00, 0x00, 0x01);
 * a.send([{ data: ping, address: b.local }, { data: ping, address: b.local }]); // one sendmmsg
 * const [first] = await received;
 * assert.deepEqual(first.address, a.local);
 * a.close();
 * b.close();
 * ```
 */
export function batchedUdpTransport(options: BatchedUdpOptions = {}): Transport {
  const lib = libc();
  const hostname = options.hostname ?? "0.0.0.0";
  if (!isIpAddress(hostname)) {
    throw new TypeError(`the batched UDP transport binds IP addresses, not ${hostname}`);
  }
  const family = hostname.includes(":") ? C.AF_INET6 : C.AF_INET;
  const onError = options.onError ?? (() => {});
  const fd = lib.socket(family, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(): errno ${errno(lib)}`);
  const sockaddr = new Uint8Array(Layout.SOCKADDR);
  const sockaddrView = new DataView(sockaddr.buffer);
  let local: Address;
  try {
    const option = (level: number, name: number, value: number, what: string) => {
      if (lib.setsockopt(fd, level, name, Int32Array.of(value), 4) < 0) {
        throw new Error(`setsockopt(${what}): errno ${errno(lib)}`);
      }
    };
    if (family === C.AF_INET6) {
      // ipv6(7): dual-stack, so "::" serves IPv4 peers too, as Deno.listenDatagram's socket does.
      option(C.IPPROTO_IPV6, C.IPV6_V6ONLY, 0, "IPV6_V6ONLY");
      option(C.IPPROTO_IPV6, C.IPV6_RECVERR, 1, "IPV6_RECVERR");
    }
    // ip(7) IP_RECVERR: ICMP errors are queued with the destination they concern; on an IPv6 socket this
    // covers the mapped IPv4 peers.
    option(C.IPPROTO_IP, C.IP_RECVERR, 1, "IP_RECVERR");
    if (options.reusePort) option(C.SOL_SOCKET, C.SO_REUSEPORT, 1, "SO_REUSEPORT");
    const length = writeSockaddr(sockaddrView, 0, family, { hostname, port: options.port ?? 0 });
    if (lib.bind(fd, sockaddr, length) < 0) {
      const code = errno(lib);
      const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${options.port ?? 0}`;
      if (code === C.EADDRINUSE) throw new Deno.errors.AddrInUse(`bind(${where}): address in use`);
      throw new Error(`bind(${where}): errno ${code}`);
    }
    const lengthCell = Uint32Array.of(Layout.SOCKADDR);
    if (lib.getsockname(fd, sockaddr, new Uint8Array(lengthCell.buffer)) < 0) {
      throw new Error(`getsockname(): errno ${errno(lib)}`);
    }
    local = readSockaddr(sockaddrView, 0);
  } catch (error) {
    lib.close(fd);
    throw error;
  }

  let closed = false;
  /** Whether the receive loop runs: it then owns the descriptor and closes it when it ends. */
  let receiving = false;
  let unreachable: ((address: Address, reason: UnreachableReason) => void) | undefined;
  const report = (address: Address, reason: UnreachableReason) => {
    for (const notify of [options.onUnreachable, unreachable]) {
      try {
        notify?.(address, reason);
      } catch (error) {
        onError(error as Error);
      }
    }
  };
  const errors = new ErrorQueue(lib, fd);
  const drainErrors = () => errors.drain(report);
  const sender = new Sender(lib, fd, family, { onError, unreachable: report, drainErrors });

  return {
    kind: "batched",
    local,
    listen(receive, onUnreachable) {
      if (receiving || closed) return;
      receiving = true;
      unreachable = onUnreachable;
      const receiver = new Receiver(lib, fd);
      (async () => {
        try {
          // After a batch, the socket is read again before going back to poll(2): datagrams that come in
          // while the batch is handled, or soon after it (SPIN_MS_PER_DATAGRAM), are taken without the round
          // trip through a worker thread. At most DRAIN_ROUNDS batches in a row, so the event loop's timers
          // and other sockets still get turns.
          // A socket that shares its port (serve --workers) sleeps between batches instead: several
          // spinning workers would take cores from each other and from everything else on the host.
          const spin = !options.reusePort;
          let drains = 0;
          let spinUntil = 0;
          let reads = 0;
          while (!closed) {
            if (drains === 0 || drains > DRAIN_ROUNDS) {
              drains = 0;
              // Waiting happens in poll(2) on a Deno worker thread; recvmmsg itself then runs here,
              // non-blocking, because errno is per thread and only this thread's can be read.
              const revents = await receiver.wait();
              if (closed) break;
              if (revents & C.POLLERR) drainErrors();
            } else {
              // Lets the previous batch's promise continuations (async handlers' answers) run first.
              await null;
              if (closed) break;
            }
            const batch = receiver.take((code) => {
              if (code === C.ECONNREFUSED || code === C.EHOSTUNREACH || code === C.ENETUNREACH) {
                drainErrors(); // ip(7): the pending error stands for a queued ICMP message
              } else if (code !== C.EAGAIN && code !== C.EINTR) {
                onError(new Error(`recvmmsg(): errno ${code}`));
              }
            });
            if (batch.length === 0) {
              // While spinning, the clock is read every SPIN_CHECK empty reads.
              if (drains > 0 && (!spin || (++reads % SPIN_CHECK === 0 && performance.now() > spinUntil))) {
                drains = 0;
              }
              continue;
            }
            reads = 0;
            drains++;
            try {
              receive(batch);
            } catch (error) {
              onError(error as Error);
            }
            if (spin) spinUntil = performance.now() + batch.length * SPIN_MS_PER_DATAGRAM;
          }
        } finally {
          // Only now, with no call on another thread still using it, may the descriptor's number be reused.
          lib.close(fd);
        }
      })();
    },
    send(batch: Datagram[]) {
      if (closed) return;
      for (let start = 0; start < batch.length; start += SEND_BATCH) {
        sender.send(batch, start, Math.min(batch.length, start + SEND_BATCH));
      }
    },
    close() {
      if (closed) return;
      closed = true;
      if (receiving) {
        // shutdown(2) on a UDP socket fails with ENOTCONN when it is not connected, yet marks it shut and
        // wakes every poll(2) on it (POLLHUP | POLLIN; net/ipv4/af_inet.c inet_shutdown): the receive loop
        // returns from its wait, sees `closed` and closes the descriptor itself.
        lib.shutdown(fd, C.SHUT_RDWR);
      } else {
        lib.close(fd);
      }
    },
  };
}

/** The receive side: RECEIVE_BATCH slots of MAX_DATAGRAM bytes, their iovecs, addresses and mmsghdrs. */
class Receiver {
  readonly #lib: ReturnType<typeof libc>;
  readonly #fd: number;
  /** struct pollfd { int fd; short events; short revents; }, read by poll() on another thread. */
  readonly #pollfd = new Uint8Array(8);
  readonly #pollPointer: Deno.PointerObject;
  /** The slots: untouched pages of this 4 MiB are never made resident, so a small datagram costs a page. */
  readonly #buffer = new Uint8Array(RECEIVE_BATCH * MAX_DATAGRAM);
  readonly #headers = new Uint8Array(RECEIVE_BATCH * Layout.MMSGHDR);
  readonly #headerView = new DataView(this.#headers.buffer);
  readonly #names = new Uint8Array(RECEIVE_BATCH * Layout.SOCKADDR);
  readonly #nameView = new DataView(this.#names.buffer);
  readonly #iovecs = new Uint8Array(RECEIVE_BATCH * Layout.IOVEC);
  /** Slots the last recvmmsg filled (all of them count as filled before the first). */
  #filled = RECEIVE_BATCH;

  constructor(lib: ReturnType<typeof libc>, fd: number) {
    this.#lib = lib;
    this.#fd = fd;
    const pollView = new DataView(this.#pollfd.buffer);
    pollView.setInt32(0, fd, true);
    pollView.setInt16(4, C.POLLIN, true);
    this.#pollPointer = Deno.UnsafePointer.of(this.#pollfd.buffer)!;
    const buffer = addressOf(this.#buffer);
    const names = addressOf(this.#names);
    const iovecs = addressOf(this.#iovecs);
    const iovecView = new DataView(this.#iovecs.buffer);
    for (let i = 0; i < RECEIVE_BATCH; i++) {
      iovecView.setBigUint64(i * Layout.IOVEC, buffer + BigInt(i * MAX_DATAGRAM), true);
      iovecView.setBigUint64(i * Layout.IOVEC + 8, BigInt(MAX_DATAGRAM), true);
      const header = i * Layout.MMSGHDR;
      this.#headerView.setBigUint64(header + Layout.MSG_NAME, names + BigInt(i * Layout.SOCKADDR), true);
      this.#headerView.setBigUint64(header + Layout.MSG_IOV, iovecs + BigInt(i * Layout.IOVEC), true);
      this.#headerView.setBigUint64(header + Layout.MSG_IOVLEN, 1n, true);
    }
  }

  /** Resolves with poll()'s revents once the socket is readable, has an error queued, or was shut down. */
  async wait(): Promise<number> {
    // poll(2) fails only with EINTR or ENOMEM (its arguments are valid): both mean "wait again".
    while (await this.#lib.poll(this.#pollPointer, 1n, -1) < 1);
    return new DataView(this.#pollfd.buffer).getInt16(6, true);
  }

  /** The datagrams waiting now (at most RECEIVE_BATCH), each copied out of its slot; `failed` gets errno. */
  take(failed: (code: number) => void): Datagram[] {
    // msg_namelen is value-result (recvmsg(2)): the slots the last call filled get their room back.
    for (let i = 0; i < this.#filled; i++) {
      this.#headerView.setUint32(i * Layout.MMSGHDR + Layout.MSG_NAMELEN, Layout.SOCKADDR, true);
    }
    const count = this.#lib.recvmmsg(this.#fd, this.#headers, RECEIVE_BATCH, C.MSG_DONTWAIT, null);
    this.#filled = Math.max(count, 0);
    if (count < 0) {
      failed(errno(this.#lib));
      return [];
    }
    const batch: Datagram[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const length = this.#headerView.getUint32(i * Layout.MMSGHDR + Layout.MSG_LEN, true);
      // The same reuse-and-copy as udpTransport: a decoded message may keep views of its datagram.
      const data = allocateBytes(length);
      data.set(this.#buffer.subarray(i * MAX_DATAGRAM, i * MAX_DATAGRAM + length));
      batch[i] = { data, address: readSockaddr(this.#nameView, i * Layout.SOCKADDR) };
    }
    return batch;
  }
}

/** Where a Sender reports: failures, unreachable destinations, and the error queue to read. */
interface SendReports {
  onError: (error: Error) => void;
  unreachable: (address: Address, reason: UnreachableReason) => void;
  drainErrors: () => void;
}

/** The send side: mmsghdrs, iovecs and addresses for SEND_BATCH datagrams, and an arena for their bytes. */
class Sender {
  readonly #lib: ReturnType<typeof libc>;
  readonly #fd: number;
  readonly #family: number;
  readonly #onError: (error: Error) => void;
  readonly #unreachable: (address: Address, reason: UnreachableReason) => void;
  readonly #drainErrors: () => void;
  readonly #structs = new Uint8Array(SEND_NAMES + SEND_BATCH * Layout.SOCKADDR);
  readonly #view = new DataView(this.#structs.buffer);
  #arena = new Uint8Array(SEND_ARENA);
  /** The arena's address as a Number (user-space pointers are below 2^47): no BigInt per datagram. */
  #arenaBase = Number(addressOf(this.#arena));

  constructor(lib: ReturnType<typeof libc>, fd: number, family: number, report: SendReports) {
    this.#lib = lib;
    this.#fd = fd;
    this.#family = family;
    this.#onError = report.onError;
    this.#unreachable = report.unreachable;
    this.#drainErrors = report.drainErrors;
    // Header i always names address slot i and iovec slot i: only lengths and the bytes' address change.
    const base = addressOf(this.#structs);
    for (let slot = 0; slot < SEND_BATCH; slot++) {
      const header = slot * Layout.MMSGHDR;
      const name = SEND_NAMES + slot * Layout.SOCKADDR;
      const iovec = SEND_IOVECS + slot * Layout.IOVEC;
      this.#view.setBigUint64(header + Layout.MSG_NAME, base + BigInt(name), true);
      this.#view.setBigUint64(header + Layout.MSG_IOV, base + BigInt(iovec), true);
      this.#view.setBigUint64(header + Layout.MSG_IOVLEN, 1n, true);
    }
  }

  /** Sends batch[start, end) with as few sendmmsg calls as the kernel allows; failures go to onError. */
  send(batch: Datagram[], start: number, end: number): void {
    let bytes = 0;
    for (let i = start; i < end; i++) bytes += batch[i].data.length;
    if (bytes > this.#arena.length) {
      this.#arena = new Uint8Array(Math.max(bytes, 2 * this.#arena.length));
      this.#arenaBase = Number(addressOf(this.#arena));
    }
    const view = this.#view;
    /** Which datagram of `batch` each header carries: those with unusable addresses are left out. */
    const carried: Datagram[] = [];
    let offset = 0;
    for (let i = start; i < end; i++) {
      const datagram = batch[i];
      const slot = carried.length;
      let nameLength: number;
      try {
        nameLength = writeSockaddr(view, SEND_NAMES + slot * Layout.SOCKADDR, this.#family, datagram.address);
      } catch (error) {
        this.#onError(error as Error);
        continue;
      }
      carried.push(datagram);
      this.#arena.set(datagram.data, offset);
      const iovec = SEND_IOVECS + slot * Layout.IOVEC;
      const at = this.#arenaBase + offset;
      view.setUint32(iovec, at % 0x1_0000_0000, true);
      view.setUint32(iovec + 4, Math.floor(at / 0x1_0000_0000), true);
      view.setUint32(iovec + 8, datagram.data.length, true);
      view.setUint32(iovec + 12, 0, true);
      offset += datagram.data.length;
      view.setUint32(slot * Layout.MMSGHDR + Layout.MSG_NAMELEN, nameLength, true);
    }
    let sent = 0;
    let retried = false;
    while (sent < carried.length) {
      const headers = this.#structs.subarray(sent * Layout.MMSGHDR);
      const count = this.#lib.sendmmsg(this.#fd, headers, carried.length - sent, C.MSG_DONTWAIT);
      if (count > 0) {
        // sendmmsg(2): after a partial send the rest is given again, from the first one not sent. The
        // kernel drops the error that stopped it: where that was a queued ICMP error (a closed port among
        // the destinations fails the datagram after it, ip(7)), the queue says which peer, so read it now.
        sent += count;
        retried = false;
        if (sent < carried.length) this.#drainErrors();
        continue;
      }
      const code = errno(this.#lib);
      if (code === C.EINTR) continue;
      const reason = unreachableReason(code);
      if (reason !== undefined && !retried) {
        // With IP_RECVERR a queued ICMP error also fails the next send (ip(7)): it may concern an earlier
        // datagram, so the same one is tried once more after the queue has been read.
        retried = true;
        this.#drainErrors();
        continue;
      }
      const { address } = carried[sent];
      if (reason !== undefined) {
        this.#unreachable(address, reason); // no route from here: this datagram's own failure
        sent++;
      } else if (code === C.EAGAIN) {
        // The socket's send buffer is full: UDP may lose datagrams, and CONs are retransmitted (RFC 7252 §4.2).
        this.#onError(new Error(`send buffer full (EAGAIN): ${carried.length - sent} datagrams dropped`));
        return;
      } else {
        this.#onError(new Error(`sendmmsg() to ${address.hostname} port ${address.port}: errno ${code}`));
        sent++;
      }
      retried = false;
    }
  }
}

/** Reads the socket's error queue (recvmsg(2) with MSG_ERRQUEUE, ip(7) IP_RECVERR, ipv6(7) IPV6_RECVERR). */
class ErrorQueue {
  readonly #lib: ReturnType<typeof libc>;
  readonly #fd: number;
  /** A msghdr, the destination's address, one iovec over a payload buffer, and the control buffer. */
  readonly #bytes = new Uint8Array(Layout.MSGHDR + Layout.SOCKADDR + Layout.IOVEC + 64 + ERROR_CONTROL);
  readonly #view = new DataView(this.#bytes.buffer);

  constructor(lib: ReturnType<typeof libc>, fd: number) {
    this.#lib = lib;
    this.#fd = fd;
    const base = addressOf(this.#bytes);
    const name = Layout.MSGHDR;
    const iovec = name + Layout.SOCKADDR;
    const payload = iovec + Layout.IOVEC;
    const control = payload + 64;
    const view = this.#view;
    view.setBigUint64(Layout.MSG_NAME, base + BigInt(name), true);
    view.setBigUint64(Layout.MSG_IOV, base + BigInt(iovec), true);
    view.setBigUint64(Layout.MSG_IOVLEN, 1n, true);
    view.setBigUint64(Layout.MSG_CONTROL, base + BigInt(control), true);
    // The original datagram comes back as the payload; its first bytes are enough (the rest is truncated).
    view.setBigUint64(iovec, base + BigInt(payload), true);
    view.setBigUint64(iovec + 8, 64n, true);
  }

  /** Reports each queued ICMP "destination unreachable" by the destination it concerns. */
  drain(report: (address: Address, reason: UnreachableReason) => void): void {
    const view = this.#view;
    const control = Layout.MSGHDR + Layout.SOCKADDR + Layout.IOVEC + 64;
    for (let n = 0; n < ERRORS_PER_DRAIN; n++) {
      view.setUint32(Layout.MSG_NAMELEN, Layout.SOCKADDR, true);
      view.setBigUint64(Layout.MSG_CONTROLLEN, BigInt(ERROR_CONTROL), true);
      view.setInt32(Layout.MSG_FLAGS, 0, true);
      const got = this.#lib.recvmsg(this.#fd, this.#bytes, C.MSG_ERRQUEUE | C.MSG_DONTWAIT);
      if (Number(got) < 0) return; // EAGAIN: the queue is empty
      const controlLength = Number(view.getBigUint64(Layout.MSG_CONTROLLEN, true));
      // cmsg(3): walk the control messages; each is padded to 8 bytes (CMSG_ALIGN).
      for (let at = control; at + Layout.CMSGHDR <= control + controlLength;) {
        const length = Number(view.getBigUint64(at, true));
        if (length < Layout.CMSGHDR) break;
        const level = view.getInt32(at + 8, true);
        const type = view.getInt32(at + 12, true);
        if (
          (level === C.IPPROTO_IP && type === C.IP_RECVERR) ||
          (level === C.IPPROTO_IPV6 && type === C.IPV6_RECVERR)
        ) {
          const error = at + Layout.CMSGHDR;
          const reason = icmpReason(
            view.getUint8(error + Layout.EE_ORIGIN),
            view.getUint8(error + Layout.EE_TYPE),
            view.getUint8(error + Layout.EE_CODE),
          );
          if (reason !== undefined) report(readSockaddr(view, Layout.MSGHDR), reason);
        }
        at += (length + 7) & ~7;
      }
    }
  }
}

/**
 * What an ICMP error says about the destination: Destination Unreachable is type 3 in ICMP (RFC 792;
 * codes 0 net, 1 host, 3 port, 6/7 unknown net/host, 9–12 prohibited or unreachable for the TOS, 13
 * filtered: RFC 1812 §5.2.7.1) and type 1 in ICMPv6 (RFC 4443 §3.1: 0 no route, 3 address, 4 port,
 * 1/5/6 prohibited or refused by policy). Other errors (Packet Too Big, Time Exceeded) say nothing final.
 */
function icmpReason(origin: number, type: number, code: number): UnreachableReason | undefined {
  if (origin === C.SO_EE_ORIGIN_ICMP && type === 3) {
    if (code === 3) return "port unreachable";
    if ([0, 6, 9, 11].includes(code)) return "network unreachable";
    if ([1, 7, 10, 12, 13].includes(code)) return "host unreachable";
  } else if (origin === C.SO_EE_ORIGIN_ICMP6 && type === 1) {
    if (code === 4) return "port unreachable";
    if (code === 0) return "network unreachable";
    if ([1, 3, 5, 6].includes(code)) return "host unreachable";
  }
  return undefined;
}

/** The reason an errno from a send stands for, if it is one of the unreachable ones (ip(7)). */
function unreachableReason(code: number): UnreachableReason | undefined {
  if (code === C.ECONNREFUSED) return "port unreachable";
  if (code === C.EHOSTUNREACH) return "host unreachable";
  if (code === C.ENETUNREACH) return "network unreachable";
  return undefined;
}
