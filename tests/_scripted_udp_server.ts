/**
 * A fake CoAP server on 127.0.0.1: a UDP socket that decodes each datagram,
 * records it and sends whatever the test's `answer` returns — the way to play
 * a server that misbehaves on purpose, which ours never does.
 */
import { decode, encode, type Message, Type } from "../src/mod.ts";

/** What the fake server received, and how to reach and stop it. */
export interface ScriptedServer {
  readonly port: number;
  readonly uri: string;
  /** Every message received, in order. */
  readonly received: Message[];
  /** Sends a message to an address (for notifications nobody asked for at that moment). */
  send(message: Message, to: Deno.NetAddr): Promise<void>;
  close(): Promise<void>;
}

/** `answer` gets each message with its sender and returns the messages to send back (none for silence). */
export function scriptedServer(
  answer: (message: Message, from: Deno.NetAddr) => Message[] | undefined,
): ScriptedServer {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  const received: Message[] = [];
  const send = async (message: Message, to: Deno.NetAddr) => {
    await socket.send(encode(message), to);
  };
  const serving = (async () => {
    for await (const [datagram, from] of socket) {
      const message = decode(datagram);
      received.push(message);
      for (const reply of answer(message, from as Deno.NetAddr) ?? []) {
        await send(reply, from as Deno.NetAddr);
      }
    }
  })().catch(() => {});
  return {
    port,
    uri: `coap://127.0.0.1:${port}`,
    received,
    send,
    close: async () => {
      socket.close();
      await serving;
    },
  };
}

/** The answer to `request` piggybacked in its ACK: its Message ID and token, with `response`'s code, options and payload. */
export function piggybacked(
  request: Message,
  response: Pick<Message, "code" | "options" | "payload">,
): Message {
  return { type: Type.ACK, messageId: request.messageId, token: request.token, ...response };
}
