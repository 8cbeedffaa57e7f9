/** A CoAP peer on 127.0.0.1 made of one UDP socket, for steps libcoap's client cannot express. */
import {
  type CoapOption,
  Code,
  decode,
  encode,
  getOption,
  type Message,
  OptionNumber,
  type Type,
} from "../src/mod.ts";

/** What a raw peer sends: a message with defaults for what the step does not care about. */
export interface RawMessage {
  type: Type;
  code: number;
  messageId: number;
  token?: Uint8Array;
  options?: CoapOption[];
  payload?: Uint8Array;
}

/** A raw peer: `send` a message to the server, `next` the next one that arrives, `close` the socket. */
export interface RawPeer {
  send(message: RawMessage): Promise<void>;
  /**
   * Sends a request and returns its answer; a 4.01 with Echo (the server's amplification check, RFC 9175
   * §2.4, for a large answer to an unverified address) is answered by repeating the request with that Echo.
   */
  request(message: RawMessage): Promise<Message>;
  /** The next message received (in order), or undefined after `timeoutMs` without one. */
  next(timeoutMs?: number): Promise<Message | undefined>;
  close(): void;
}

/** Opens a raw peer that talks to the server on 127.0.0.1:`port`. */
export function rawPeer(port: number): RawPeer {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const server: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const queue: Message[] = [];
  let wake: (() => void) | undefined;
  (async () => {
    for await (const [data] of socket) {
      queue.push(decode(data));
      wake?.();
    }
  })().catch(() => {});
  const send = async (message: RawMessage) => {
    await socket.send(
      encode({ token: new Uint8Array(), options: [], payload: new Uint8Array(), ...message }),
      server,
    );
  };
  const next = async (timeoutMs = 2000) => {
    if (queue.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      wake = undefined;
    }
    return queue.shift();
  };
  return {
    send,
    next,
    request: async (message) => {
      await send(message);
      const answer = await next();
      if (answer === undefined) throw new Error(`no answer to message ID ${message.messageId}`);
      const echo = getOption(answer, OptionNumber.Echo);
      if (answer.code !== Code.Unauthorized || echo === undefined) return answer;
      const options = [...(message.options ?? []), { number: OptionNumber.Echo, value: echo }];
      await send({ ...message, messageId: (message.messageId + 1) & 0xffff, options });
      const repeated = await next();
      if (repeated === undefined) throw new Error("no answer to the request repeated with Echo");
      return repeated;
    },
    close: () => socket.close(),
  };
}
