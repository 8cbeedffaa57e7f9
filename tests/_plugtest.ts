/**
 * For the td-coap4 tests: the plugtest server on a free port, libcoap's coap-client-notls run against it with
 * every PDU printed (-v 6) and parsed, and a raw UDP peer for the steps coap-client cannot express.
 */
import { CoapServer, decode, encode, type Message, type RequestLogEntry } from "../src/mod.ts";
import { plugtestSite } from "../src/demo/plugtest_site.ts";
import { runCommand } from "./_peers.ts";

/** The plugtest server on 127.0.0.1; `log` holds every request it answered. */
export function servePlugtest(): { port: number; base: string; log: RequestLogEntry[]; close(): void } {
  const plugtest = plugtestSite();
  const log: RequestLogEntry[] = [];
  const server = new CoapServer(plugtest.site, {
    hostname: "127.0.0.1",
    port: 0,
    onLog: (entry) => log.push(entry),
  });
  const port = server.address.port;
  return {
    port,
    base: `coap://127.0.0.1:${port}`,
    log,
    close: () => {
      server.close();
      plugtest.stop();
    },
  };
}

/**
 * One PDU as coap-client -v 6 prints it:
 * `v:1 t:ACK c:2.05 i:fc6f {6162} [ Content-Format:text/plain ] :: 'x'`.
 */
export interface PrintedPdu {
  type: string;
  code: string;
  /** Hex, as printed. */
  messageId: string;
  /** Hex, as printed; "" for an empty token. */
  token: string;
  /** "Name:value" each. */
  options: string[];
  payload?: string;
}

const PDU_LINE = /^v:1 t:(\w+) c:(\S+) i:([0-9a-f]+) \{([0-9a-f]*)\} \[ ?(.*?) ?\](?: :: '(.*)')?$/;

/** The values of option `name` in a printed PDU ("ETag", "Location-Path", …). */
export function printedOption(pdu: PrintedPdu, name: string): string[] {
  return pdu.options.filter((option) => option.startsWith(`${name}:`)).map((option) =>
    option.slice(name.length + 1)
  );
}

/** Every PDU coap-client printed, the ones it sent and the ones it received, in order. */
export function printedPdus(output: string): PrintedPdu[] {
  return output.split("\n").flatMap((line) => {
    const match = PDU_LINE.exec(line);
    if (match === null) return [];
    const [, type, code, messageId, token, options, payload] = match;
    return [{ type, code, messageId, token, options: options === "" ? [] : options.split(", "), payload }];
  });
}

/** Runs coap-client-notls with `args` and PDU printing on; what it printed, its PDUs, and its exit code. */
export async function coapClient(
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; pdus: PrintedPdu[] }> {
  // -B: give up waiting after 10 s, well before runCommand's kill.
  const result = await runCommand("coap-client-notls", ["-v", "6", "-B", "10", ...args], timeoutMs);
  const output = result.stdout + result.stderr;
  return { code: result.code, stdout: output, pdus: printedPdus(output) };
}

/** A bare UDP peer that sends and receives whole CoAP messages, for steps coap-client cannot take. */
export interface RawPeer {
  send(message: Message): Promise<void>;
  /** The next message from the server; rejects after `timeoutMs`. */
  receive(timeoutMs?: number): Promise<Message>;
  close(): void;
}

/** A raw peer on a free port of 127.0.0.1, talking to the server on `port`. */
export function rawPeer(port: number): RawPeer {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const server: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
  const queue: Message[] = [];
  let wake = () => {};
  (async () => {
    for await (const [data] of socket) {
      queue.push(decode(data));
      wake();
    }
  })().catch(() => {}); // ends when the socket closes
  return {
    send: async (message) => {
      await socket.send(encode(message), server);
    },
    receive: async (timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      while (queue.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`nothing from the server within ${timeoutMs} ms`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, left);
        });
        clearTimeout(timer);
      }
      return queue.shift()!;
    },
    close: () => socket.close(),
  };
}
