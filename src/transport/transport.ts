/**
 * What moves datagrams: UDP, an in-memory link, later a serial line. The
 * interface deals in batches, so a transport that receives many datagrams per
 * wake-up (recvmmsg) can slot in without changing the layers above.
 * @module
 */

/** A UDP-style address. */
export interface Address {
  /** An IPv4 or IPv6 address (IPv6 without brackets). */
  readonly hostname: string;
  /** The UDP port. */
  readonly port: number;
}

/** One datagram and the peer it came from or goes to. */
export interface Datagram {
  /** The datagram's bytes. */
  readonly data: Uint8Array;
  /** The peer: where it came from, or where it goes. */
  readonly address: Address;
}

/** Why a destination cannot be reached, as an ICMP Destination Unreachable said (RFC 792, RFC 4443 §3.1). */
export type UnreachableReason = "port unreachable" | "host unreachable" | "network unreachable";

/** A datagram transport. */
export interface Transport {
  /** What carries the datagrams, where it matters: "batched" (recvmmsg/sendmmsg) or "deno" (Deno.listenDatagram) UDP. */
  readonly kind?: string;
  /** The local address datagrams are received on. */
  readonly local: Address;
  /**
   * Starts delivery: `receive` is called with every batch of datagrams that arrives; `unreachable`, when
   * the transport learns it (ICMP errors), with each destination that cannot be reached. A transport that
   * cannot tell ignores it.
   */
  listen(
    receive: (batch: Datagram[]) => void,
    unreachable?: (address: Address, reason: UnreachableReason) => void,
  ): void;
  /** Sends datagrams; failures are reported through `onError`, never thrown. */
  send(batch: Datagram[]): void;
  /** Stops receiving and releases the transport. */
  close(): void;
}

/** "host:port", with IPv6 hosts in brackets: the key a peer is known by. */
export function addressKey(address: Address): string {
  return address.hostname.includes(":")
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}
