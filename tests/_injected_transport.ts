/**
 * A transport whose datagrams the test writes by hand, from any address, and
 * whose sends it reads back: the real endpoint and core, without sockets, so
 * tables can be filled from 100,000 addresses on a virtual clock.
 */
import { type Address, type Clock, decode, type Message, type Transport } from "../src/mod.ts";

/** The transport, a way to inject datagrams, and what was sent (decoded). */
export interface InjectedTransport {
  readonly transport: Transport;
  /** Delivers `data` as if it came from `from`. */
  inject(from: Address, data: Uint8Array): void;
  /** Every datagram sent, in order, and when (by `clock`, if one was given). */
  readonly sent: { to: Address; data: Uint8Array; message: Message; at?: number }[];
}

/** A transport bound to `local` that only the test feeds; sends are stamped with `clock`'s time. */
export function injectedTransport(
  local: Address = { hostname: "10.0.0.1", port: 5683 },
  clock?: Clock,
): InjectedTransport {
  let receive: (batch: { data: Uint8Array; address: Address }[]) => void = () => {};
  const sent: InjectedTransport["sent"] = [];
  return {
    transport: {
      local,
      listen: (deliver) => void (receive = deliver),
      send: (batch) => {
        for (const { data, address } of batch) {
          sent.push({ to: address, data, message: decode(data), at: clock?.now() });
        }
      },
      close: () => {},
    },
    inject: (from, data) => receive([{ data, address: from }]),
    sent,
  };
}
