/**
 * glibc's socket calls through Deno FFI, for the batched UDP transport: only
 * what recvmmsg/sendmmsg over one UDP socket and its error queue need, with
 * the struct layouts of 64-bit Linux (x86_64 and aarch64 share them: LP64,
 * little-endian, the asm-generic socket numbers).
 * @module
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  // On a Deno worker thread, returning a Promise: the only call that waits. Its pollfd is a pointer, not a
  // buffer, so nothing ties it to the JS call's lifetime (the transport keeps the pollfd alive).
  poll: { parameters: ["pointer", "u64", "i32"], result: "i32", nonblocking: true },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The loaded symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Numbers from <sys/socket.h>, <netinet/in.h>, <linux/errqueue.h>, <poll.h>, <errno.h> (Linux, 64-bit). */
export const C = {
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_DGRAM: 2,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_REUSEPORT: 15,
  IPPROTO_IP: 0,
  IPPROTO_IPV6: 41,
  IP_RECVERR: 11,
  IPV6_RECVERR: 25,
  IPV6_V6ONLY: 26,
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  MSG_ERRQUEUE: 0x2000,
  SHUT_RDWR: 2,
  POLLIN: 0x1,
  POLLERR: 0x8,
  SO_EE_ORIGIN_ICMP: 2,
  SO_EE_ORIGIN_ICMP6: 3,
  EINTR: 4,
  EAGAIN: 11,
  EADDRINUSE: 98,
  ENETUNREACH: 101,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
} as const;

/** Struct sizes and field offsets (glibc, LP64). */
export const Layout = {
  /** struct sockaddr_in6 (28 bytes) rounded up; a sockaddr_in (16) fits too. */
  SOCKADDR: 32,
  /** struct iovec { void *iov_base; size_t iov_len; } */
  IOVEC: 16,
  /** struct msghdr: name 0, namelen 8, iov 16, iovlen 24, control 32, controllen 40, flags 48. */
  MSGHDR: 56,
  MSG_NAME: 0,
  MSG_NAMELEN: 8,
  MSG_IOV: 16,
  MSG_IOVLEN: 24,
  MSG_CONTROL: 32,
  MSG_CONTROLLEN: 40,
  MSG_FLAGS: 48,
  /** struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; } padded to 8. */
  MMSGHDR: 64,
  MSG_LEN: 56,
  /** struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then the data (CMSG_DATA). */
  CMSGHDR: 16,
  /** struct sock_extended_err: ee_errno 0 (u32), ee_origin 4, ee_type 5, ee_code 6 (u8 each). */
  EE_ERRNO: 0,
  EE_ORIGIN: 4,
  EE_TYPE: 5,
  EE_CODE: 6,
} as const;

let loaded: Libc | undefined;

/**
 * Loads libc once. Throws when FFI is not allowed or the library is not glibc on 64-bit Linux, whose
 * layouts this module assumes.
 */
export function libc(): Libc {
  if (loaded) return loaded;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    throw new Error(`the batched UDP transport needs 64-bit Linux, not ${Deno.build.os} ${Deno.build.arch}`);
  }
  loaded = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return loaded;
}

/**
 * errno of the last failed call on this thread. Read right after a synchronous call: the nonblocking
 * call runs on another thread, whose errno this cannot see (which is why only poll() is nonblocking).
 */
export function errno(lib: Libc): number {
  return new Deno.UnsafePointerView(lib.__errno_location()!).getInt32();
}

/** The address of a buffer's first byte (its byteOffset included) as a bigint, for struct fields. */
export function addressOf(bytes: Uint8Array): bigint {
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes.buffer as ArrayBuffer)));
  return base + BigInt(bytes.byteOffset);
}

/** A socket address as text and port. */
export interface SocketAddress {
  /** IPv4 dotted quad, or IPv6 text (RFC 5952; a mapped IPv4 address as ::ffff:a.b.c.d). */
  hostname: string;
  /** The port. */
  port: number;
}

/**
 * Writes `address` as a sockaddr for a socket of `family` into `view` at `offset`; returns its length.
 * An IPv4 address given to an AF_INET6 socket becomes ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). Throws on text
 * that is no IP address of the family.
 */
export function writeSockaddr(
  view: DataView,
  offset: number,
  family: number,
  address: SocketAddress,
): number {
  const { hostname, port } = address;
  if (!(Number.isInteger(port) && port >= 0 && port <= 0xffff)) throw new RangeError(`bad port ${port}`);
  if (family === C.AF_INET) {
    const v4 = parsedHost(parsedIpv4, hostname, parseIpv4);
    if (v4 === undefined) throw new TypeError(`${hostname} is not an IPv4 address`);
    view.setUint16(offset, C.AF_INET, true);
    view.setUint16(offset + 2, port);
    view.setUint32(offset + 4, v4);
    view.setBigUint64(offset + 8, 0n);
    return 16;
  }
  const v6 = parsedHost(parsedIpv6, hostname, parseIpv6);
  if (v6 === undefined) throw new TypeError(`${hostname} is not an IP address`);
  view.setUint16(offset, C.AF_INET6, true);
  view.setUint16(offset + 2, port);
  view.setUint32(offset + 4, 0); // flow info
  for (let i = 0; i < 8; i++) view.setUint16(offset + 8 + 2 * i, v6[i]);
  view.setUint32(offset + 24, 0); // scope id
  return 28;
}

/** Reads the sockaddr_in or sockaddr_in6 at `offset`. */
export function readSockaddr(view: DataView, offset: number): SocketAddress {
  const family = view.getUint16(offset, true);
  const port = view.getUint16(offset + 2);
  if (family === C.AF_INET) return { hostname: cachedText(view.getUint32(offset + 4), false), port };
  // A peer on a dual-stack socket: ::ffff:a.b.c.d, the usual IPv4 client of `serve`.
  if (
    view.getUint32(offset + 8) === 0 && view.getUint32(offset + 12) === 0 &&
    view.getUint32(offset + 16) === 0xffff
  ) {
    return { hostname: cachedText(view.getUint32(offset + 20), true), port };
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(view.getUint16(offset + 8 + 2 * i));
  return { hostname: ipv6Text(groups), port };
}

/** Whether `text` is an IPv4 or IPv6 address (not a name). */
export function isIpAddress(text: string): boolean {
  return parseIpv6(text) !== undefined;
}

/**
 * How many IPv4 addresses (plain and mapped, each) keep their text, and how many host texts (per family)
 * their parsed form, between datagrams: a datagram from a known address then costs no new string, and one to it no
 * parse. When a cache is full it starts over, so a sender cycling through more addresses costs a parse or
 * a string per datagram, as without the cache, and memory stays bounded.
 */
export const ADDRESS_CACHE_ENTRIES = 4096;
const ipv4Texts = new Map<number, string>();
const mappedTexts = new Map<number, string>();
const parsedIpv4 = new Map<string, number | undefined>();
const parsedIpv6 = new Map<string, number[] | undefined>();

function cachedText(value: number, mapped: boolean): string {
  const cache = mapped ? mappedTexts : ipv4Texts;
  let text = cache.get(value);
  if (text === undefined) {
    if (cache.size >= ADDRESS_CACHE_ENTRIES) cache.clear();
    text = mapped ? `::ffff:${ipv4Text(value)}` : ipv4Text(value);
    cache.set(value, text);
  }
  return text;
}

/** `parse(hostname)`, kept in `cache` (one per family, so the text alone is the key). */
function parsedHost<T>(
  cache: Map<string, T | undefined>,
  hostname: string,
  parse: (text: string) => T | undefined,
) {
  if (cache.has(hostname)) return cache.get(hostname);
  if (cache.size >= ADDRESS_CACHE_ENTRIES) cache.clear();
  const parsed = parse(hostname);
  cache.set(hostname, parsed);
  return parsed;
}

function ipv4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) {
    return undefined;
  }
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** Eight 16-bit groups of an IPv6 address (or of an IPv4 one, mapped); undefined for anything else. */
function parseIpv6(text: string): number[] | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return [0, 0, 0, 0, 0, 0xffff, v4 >>> 16, v4 & 0xffff];
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === "") return [];
    const groups: number[] = [];
    const pieces = part.split(":");
    for (const [i, piece] of pieces.entries()) {
      const tail = i === pieces.length - 1 ? parseIpv4(piece) : undefined;
      if (tail !== undefined) groups.push(tail >>> 16, tail & 0xffff);
      else if (/^[0-9a-f]{1,4}$/i.test(piece)) groups.push(parseInt(piece, 16));
      else return undefined;
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
}

/**
 * RFC 5952 §4 text: lower-case hex, the longest run of two or more zero groups (the first of equals) as
 * "::", and a mapped IPv4 address as ::ffff:a.b.c.d (§5) — the text Deno.listenDatagram reports, so a peer
 * has the same key on either UDP transport.
 */
function ipv6Text(groups: number[]): string {
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${ipv4Text(groups[6] * 65536 + groups[7])}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8;) {
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end === start ? start + 1 : end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
