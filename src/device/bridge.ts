/**
 * The serial↔UDP bridge: QEMU connects the device's UART to a TCP socket
 * here; the bridge owns a UDP port on the host and carries datagrams both
 * ways as IPv4/UDP packets in slipmux frames. Host peers appear to the device
 * with their own address and port, so the device answers each of them, and
 * the device's own requests leave from the bridge's UDP port.
 * @module
 */
import type { Address } from "../transport/transport.ts";
import { udpPacket } from "../tools/ip_udp.ts";
import { DEVICE_IPV4, DEVICE_PORT, unwrapUdp } from "./ipv4_udp.ts";
import { encodeIpFrame, MAX_FRAME, SlipmuxDecoder } from "./slipmux.ts";

const IP_UDP_HEADERS = 28;
/** A lone SLIP END: an empty frame, which the device ignores but counts as the host being alive. */
const KEEPALIVE = Uint8Array.of(0xc0);
const KEEPALIVE_EVERY_MS = 1000;

/** How the bridge reports what crosses the link. */
export interface BridgeOptions {
  /** Host address of the UDP side; IPv4, as the link carries IPv4. Default 127.0.0.1. */
  hostname?: string;
  /** UDP port; 0 picks a free one. */
  port?: number;
  /** The device's log lines (slipmux diagnostic frames). */
  onDiagnostic?: (line: string) => void;
  /** Frames or packets from the device the bridge could not use. */
  onInvalid?: (reason: string) => void;
}

/** A UDP port on the host that leads to the device's serial link. */
export class DeviceBridge {
  /** Where host peers send CoAP to reach the device. */
  readonly address: Address;
  /** The TCP port QEMU's chardev connects to (`-chardev socket,host=127.0.0.1,port=…,server=off`). */
  readonly serialPort: number;
  readonly #udp: Deno.DatagramConn;
  readonly #listener: Deno.Listener<Deno.TcpConn>;
  readonly #options: BridgeOptions;
  #serial: Deno.TcpConn | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;
  #keepalive: ReturnType<typeof setInterval> | undefined;

  constructor(options: BridgeOptions = {}) {
    this.#options = options;
    const hostname = options.hostname ?? "127.0.0.1";
    this.#udp = Deno.listenDatagram({ transport: "udp", hostname, port: options.port ?? 0 });
    const local = this.#udp.addr as Deno.NetAddr;
    this.address = { hostname: local.hostname, port: local.port };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.serialPort = (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Waits for QEMU to connect, then carries traffic until close(). */
  async connect(): Promise<void> {
    const serial = await this.#listener.accept();
    serial.setNoDelay(true);
    this.#serial = serial;
    this.#listener.close();
    this.#pumpSerial(serial);
    this.#pumpUdp();
    // The firmware powers off after 10 s without a byte, so QEMU never outlives a host that died without stopping it.
    this.#keepalive = setInterval(() => this.writeSerial(KEEPALIVE).catch(() => {}), KEEPALIVE_EVERY_MS);
  }

  /** Writes raw bytes to the device's UART (tests use it to send broken frames). */
  writeSerial(bytes: Uint8Array): Promise<void> {
    const serial = this.#serial;
    if (!serial) return Promise.reject(new Error("the device is not connected"));
    // Chained, so frames from concurrent senders never interleave on the wire.
    const write = this.#writes.then(async () => {
      for (let at = 0; at < bytes.length;) at += await serial.write(bytes.subarray(at));
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  /** Stops both sides. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    for (const resource of [this.#udp, this.#listener, this.#serial]) {
      try {
        resource?.close();
      } catch {
        // Already closed by the other side.
      }
    }
  }

  async #pumpSerial(serial: Deno.TcpConn): Promise<void> {
    const decoder = new SlipmuxDecoder();
    try {
      for await (const chunk of serial.readable) {
        for (const frame of decoder.push(chunk)) {
          if (frame.kind === "diagnostic") this.#options.onDiagnostic?.(frame.text);
          else if (frame.kind === "invalid") this.#options.onInvalid?.(frame.reason);
          else if (frame.kind === "configuration") {
            this.#options.onInvalid?.("unexpected configuration frame");
          } else this.#forward(frame.data);
        }
      }
    } catch (error) {
      if (!this.#closed) this.#options.onInvalid?.(`serial link failed: ${(error as Error).message}`);
    }
  }

  #forward(packet: Uint8Array): void {
    const datagram = unwrapUdp(packet);
    if ("error" in datagram) {
      this.#options.onInvalid?.(datagram.error);
      return;
    }
    const { hostname, port } = datagram.destination;
    this.#udp.send(datagram.payload, { transport: "udp", hostname, port }).catch((error) => {
      if (!this.#closed) this.#options.onInvalid?.(`cannot send to ${hostname}:${port}: ${error.message}`);
    });
  }

  async #pumpUdp(): Promise<void> {
    const device = { hostname: DEVICE_IPV4, port: DEVICE_PORT };
    while (!this.#closed) {
      let received: [Uint8Array, Deno.Addr];
      try {
        received = await this.#udp.receive();
      } catch {
        return;
      }
      const [data, from] = received as [Uint8Array, Deno.NetAddr];
      if (data.length + IP_UDP_HEADERS > MAX_FRAME) {
        this.#options.onInvalid?.(`a ${data.length}-byte datagram does not fit the ${MAX_FRAME}-byte link`);
        continue;
      }
      const packet = udpPacket({
        source: { hostname: from.hostname, port: from.port },
        destination: device,
        payload: data,
      });
      this.writeSerial(encodeIpFrame(packet)).catch(() => {});
    }
  }
}
