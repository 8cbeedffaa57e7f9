/**
 * A UDP relay between one client and one server that drops, duplicates and
 * delays datagrams in both directions, from a seeded random source.
 */
import { seededRandom } from "./_random.ts";

/** How the relay mistreats traffic. */
export interface RelayConditions {
  /** Drop probability per datagram, each direction. */
  loss: number;
  /** Probability a forwarded datagram is sent twice. */
  duplicate?: number;
  /** Up to this many ms of random delay, which reorders datagrams. */
  jitter?: number;
  seed?: number;
}

/** A running relay: clients talk to `port`; `setLoss` changes the drop rate; `close` stops it. */
export interface LossyRelay {
  readonly port: number;
  readonly dropped: number;
  setLoss(loss: number): void;
  close(): void;
}

/** Starts a relay on 127.0.0.1 forwarding to `serverPort`. */
export function startLossyRelay(serverPort: number, conditions: RelayConditions): LossyRelay {
  const random = seededRandom(conditions.seed ?? 1);
  const facingClient = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const facingServer = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const server: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port: serverPort };
  let client: Deno.NetAddr | undefined;
  let loss = conditions.loss;
  let dropped = 0;
  let open = true;

  const forward = (socket: Deno.DatagramConn, data: Uint8Array, to: Deno.NetAddr) => {
    if (random() < loss) {
      dropped++;
      return;
    }
    const copies = random() < (conditions.duplicate ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const send = () => open && socket.send(data, to).catch(() => {});
      const delay = random() * (conditions.jitter ?? 0);
      if (delay > 0) setTimeout(send, delay);
      else send();
    }
  };
  (async () => {
    for await (const [data, from] of facingClient) {
      client = from as Deno.NetAddr;
      forward(facingServer, data, server);
    }
  })().catch(() => {});
  (async () => {
    for await (const [data] of facingServer) if (client) forward(facingClient, data, client);
  })().catch(() => {});

  return {
    port: (facingClient.addr as Deno.NetAddr).port,
    get dropped() {
      return dropped;
    },
    setLoss: (value) => loss = value,
    close() {
      open = false;
      facingClient.close();
      facingServer.close();
    },
  };
}
