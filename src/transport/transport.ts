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

/** A datagram transport. */
export interface Transport {
  /** The local address datagrams are received on. */
  readonly local: Address;
  /** Starts delivery: `receive` is called with every batch of datagrams that arrives. */
  listen(receive: (batch: Datagram[]) => void): void;
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
