/**
 * UDP over Deno.listenDatagram. IPv4 and IPv6; binding "::" also receives IPv4
 * as mapped addresses on Linux.
 * @module
 */
import { allocateBytes } from "../bytes.ts";
import type { Datagram, Transport } from "./transport.ts";

/** The largest UDP payload over IPv4 and IPv6 without jumbograms. */
const MAX_DATAGRAM = 65535;

/** Options for a UDP transport. */
export interface UdpOptions {
  /** Address to bind; "0.0.0.0" by default ("::" for IPv6). */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port?: number;
  /** Called when a send or receive fails; the transport keeps going. */
  onError?: (error: Error) => void;
}

/**
 * A UDP socket as a Transport.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Datagram, udpTransport } from "../mod.ts";
 * const a = udpTransport({ hostname: "127.0.0.1", port: 0 }); // 0: any free port
 * const b = udpTransport({ hostname: "127.0.0.1", port: 0 });
 * const received = new Promise<Datagram[]>((resolve) => b.listen(resolve));
 * a.send([{ data: Uint8Array.of(0x40, 0x00, 0x00, 0x01), address: b.local }]); // a CoAP ping
 * const [datagram] = await received;
 * assert.deepEqual(datagram.address, a.local);
 * a.close();
 * b.close();
 * ```
 */
export function udpTransport(options: UdpOptions = {}): Transport {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: options.hostname ?? "0.0.0.0",
    port: options.port ?? 0,
  });
  const onError = options.onError ?? (() => {});
  const localAddress = conn.addr as Deno.NetAddr;
  let closed = false;
  return {
    kind: "deno",
    local: { hostname: localAddress.hostname, port: localAddress.port },
    listen(receive) {
      (async () => {
        // Without a buffer, Deno allocates and zeroes 64 KiB for every datagram: that was a quarter
        // of a busy server's time. One buffer is reused instead and each datagram copied out of it
        // (a few dozen bytes, into a slab), so messages decoded from it stay valid afterwards.
        const buffer = new Uint8Array(MAX_DATAGRAM);
        try {
          while (!closed) {
            const [view, remote] = await conn.receive(buffer);
            const data = allocateBytes(view.length);
            data.set(view);
            const { hostname, port } = remote as Deno.NetAddr;
            receive([{ data, address: { hostname, port } }]);
          }
        } catch (error) {
          if (!closed) onError(error as Error);
        }
      })();
    },
    send(batch: Datagram[]) {
      for (const { data, address } of batch) {
        // Not awaited: one datagram must not wait for the previous one's completion.
        conn.send(data, { transport: "udp", hostname: address.hostname, port: address.port })
          .catch((error: Error) => {
            if (!closed) onError(error);
          });
      }
    },
    close() {
      if (closed) return;
      closed = true;
      conn.close();
    },
  };
}

/** The family-appropriate wildcard for reaching `hostname`. */
export function wildcardFor(hostname: string): string {
  return hostname.includes(":") ? "::" : "0.0.0.0";
}
