/**
 * DTLS sessions in one process over the in-memory link (real OpenSSL, no sockets): handshakes,
 * resumption, cookies, wrong keys, loss and reordering, the server's limits and expiry, and the
 * rule that a ClientHello replaces a session only once its cookie verifies. The last test sends
 * 1,000 ClientHellos over real UDP.
 */
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapServer,
  type Datagram,
  type DtlsClientOptions,
  dtlsClientTransport,
  DtlsError,
  type DtlsServerOptions,
  type DtlsServerTransport,
  dtlsServerTransport,
  type DtlsSessionEvent,
  Endpoint,
  MemoryLink,
  realClock,
  Site,
  type Transport,
  udpTransport,
} from "../src/mod.ts";
import { records, startsWithClientHello } from "../src/dtls/records.ts";
import { needsOpenSsl } from "./_peers.ts";

const KEY = new TextEncoder().encode("secret");
const PSK = { identity: "dev1", key: KEY };
const SERVER = { hostname: "192.0.2.1", port: 5684 };
const site = () => new Site().add("temperature", { get: () => "22.5" });
/** Fast flight retransmissions (OpenSSL's timers run on the real clock), so loss costs milliseconds. */
const FAST = { initialTimeout: 40 };

interface Bench {
  link: MemoryLink;
  dtls: DtlsServerTransport;
  server: CoapServer;
  events: DtlsSessionEvent[];
  client(
    port: number,
    options?: Partial<DtlsClientOptions>,
  ): { transport: ReturnType<typeof dtlsClientTransport> };
  close(): void;
}

function bench(serverOptions: Partial<DtlsServerOptions> = {}, link = new MemoryLink(realClock)): Bench {
  const events: DtlsSessionEvent[] = [];
  const dtls = dtlsServerTransport(link.attach(SERVER), {
    psk: KEY,
    ...FAST,
    ...serverOptions,
    onSession: (event) => events.push(event),
  });
  const server = new CoapServer(site(), { endpoint: new Endpoint(dtls) });
  const closers: (() => void)[] = [];
  return {
    link,
    dtls,
    server,
    events,
    client(port, options = {}) {
      const transport = dtlsClientTransport(link.attach({ hostname: "192.0.2.9", port }), {
        psk: PSK,
        ...FAST,
        ...options,
      });
      transport.listen(() => {});
      closers.push(() => transport.close());
      return { transport };
    },
    close() {
      for (const close of closers) close();
      server.close();
    },
  };
}

/** A CoapClient over its own DTLS transport on the link. */
function coapClient(link: MemoryLink, port: number, options: Partial<DtlsClientOptions> = {}) {
  const transport = dtlsClientTransport(link.attach({ hostname: "192.0.2.9", port }), {
    psk: PSK,
    ...FAST,
    ...options,
  });
  return { transport, client: new CoapClient({ endpoint: new Endpoint(transport) }) };
}

const names = (datagram: Uint8Array) => records(datagram).map((record) => record.name);

Deno.test(
  needsOpenSsl(
    "a full handshake with a cookie takes 3 round trips; a resumed one 2, and CoAP runs over both",
  ),
  async () => {
    const b = bench();
    const sessions = new Map<string, Uint8Array>();
    try {
      const first = coapClient(b.link, 40001, { sessions });
      const full = await first.transport.connect(SERVER);
      assert.deepEqual([full.resumed, full.roundTrips], [false, 3]);
      assert.match(full.cipher, /PSK/);
      const response = await first.client.get("coap://192.0.2.1:5684/temperature");
      assert.equal(response.text(), "22.5");
      // The server's first answer to a ClientHello is a HelloVerifyRequest (RFC 6347 §4.2.1).
      const fromServer = b.link.log.filter((event) => event.from.port === 5684);
      assert.deepEqual(names(fromServer[0].data), ["HelloVerifyRequest"]);
      first.client.close();
      const second = coapClient(b.link, 40002, { sessions });
      const resumed = await second.transport.connect(SERVER);
      assert.deepEqual([resumed.resumed, resumed.roundTrips], [true, 2]);
      assert.equal((await second.client.get("coap://192.0.2.1:5684/temperature")).text(), "22.5");
      second.client.close();
      assert.deepEqual(
        b.events.filter((event) => event.kind === "established").map((
          event,
        ) => [event.resumed, event.identity]),
        [[false, "dev1"], [true, "dev1"]],
      );
    } finally {
      b.close();
    }
  },
);

Deno.test(
  needsOpenSsl(
    "a wrong PSK fails at the client's deadline with 'wrong PSK?', and leaves no session on the server",
  ),
  async () => {
    const b = bench({ limits: { handshakeTimeout: 300 } });
    try {
      const { transport } = b.client(40010, {
        psk: { identity: "dev1", key: KEY.map((x) => x ^ 1) },
        handshakeTimeout: 400,
      });
      await assert.rejects(transport.connect(SERVER), (error: Error) => {
        assert.ok(error instanceof DtlsError);
        assert.match(error.message, /failed after ServerHello.*wrong PSK\?/);
        return true;
      });
      await delay(400);
      assert.deepEqual(b.dtls.stats, { sessions: 0, handshaking: 0 });
      assert.ok(!b.events.some((event) => event.kind === "established"));
      assert.ok(b.events.some((event) => event.kind === "failed"));
    } finally {
      b.close();
    }
  },
);

Deno.test(needsOpenSsl("an identity not in the server's key table fails the handshake"), async () => {
  const b = bench({ psk: undefined, pskKeys: { dev1: KEY }, limits: { handshakeTimeout: 300 } });
  try {
    const known = b.client(40020);
    assert.equal((await known.transport.connect(SERVER)).resumed, false);
    const stranger = b.client(40021, { psk: { identity: "dev2", key: KEY }, handshakeTimeout: 400 });
    await assert.rejects(stranger.transport.connect(SERVER), DtlsError);
    assert.deepEqual(b.events.filter((event) => event.kind === "established").map((e) => e.identity), [
      "dev1",
    ]);
  } finally {
    b.close();
  }
});

Deno.test(needsOpenSsl("a server that never answers: 'no DTLS response from …'"), async () => {
  const link = new MemoryLink(realClock);
  const silent = link.attach(SERVER);
  silent.listen(() => {});
  const { transport } = coapClient(link, 40030, { handshakeTimeout: 200 });
  transport.listen(() => {});
  try {
    await assert.rejects(transport.connect(SERVER), /^DtlsError: no DTLS response from 192\.0\.2\.1:5684$/);
  } finally {
    transport.close();
    silent.close();
  }
});

Deno.test(
  needsOpenSsl(
    "lost, duplicated and reordered flights: handshakes retransmit and complete, CoAP gets through",
  ),
  async () => {
    const link = new MemoryLink(realClock, { loss: 0.25, duplicate: 0.1, jitter: 20, seed: 7 });
    const b = bench({}, link);
    try {
      for (const port of [40040, 40041, 40042]) {
        const { client } = coapClient(link, port, { handshakeTimeout: 8000 });
        const response = await client.get("coap://192.0.2.1:5684/temperature");
        assert.equal(response.text(), "22.5");
        client.close();
      }
      assert.ok(link.log.some((event) => event.fate === "dropped"), "the link dropped something");
    } finally {
      b.close();
    }
  },
);

Deno.test(
  needsOpenSsl("session limits: in total, per source address and mid-handshake; refusals keep no state"),
  async () => {
    const b = bench({ limits: { maxSessions: 2 } });
    try {
      await b.client(40050).transport.connect(SERVER);
      await b.client(40051).transport.connect(SERVER);
      await assert.rejects(b.client(40052, { handshakeTimeout: 300 }).transport.connect(SERVER), DtlsError);
      assert.deepEqual(b.dtls.stats, { sessions: 2, handshaking: 0 });
      // Every retransmission of the refused ClientHello is refused again; none created a session.
      assert.deepEqual([...new Set(b.events.filter((e) => e.kind === "refused").map((e) => e.reason))], [
        "too many sessions",
      ]);
    } finally {
      b.close();
    }
    const perAddress = bench({ limits: { maxSessionsPerAddress: 1 } });
    try {
      await perAddress.client(40060).transport.connect(SERVER);
      await assert.rejects(perAddress.client(40061, { handshakeTimeout: 300 }).transport.connect(SERVER));
      assert.equal(
        perAddress.events.find((e) => e.kind === "refused")?.reason,
        "too many sessions from this address",
      );
    } finally {
      perAddress.close();
    }
    // Clients that send their ClientHello with the cookie and then go silent hold handshake slots.
    const link = new MemoryLink(realClock);
    const handshakes = bench({ limits: { maxHandshakes: 1, handshakeTimeout: 300 } }, link);
    try {
      const stalled = stallAfterCookie(link, 40070);
      await delay(50);
      assert.deepEqual(handshakes.dtls.stats, { sessions: 1, handshaking: 1 });
      await assert.rejects(handshakes.client(40071, { handshakeTimeout: 200 }).transport.connect(SERVER));
      assert.equal(
        handshakes.events.find((e) => e.kind === "refused")?.reason,
        "too many handshakes in progress",
      );
      // The deadline frees the slot.
      await delay(400);
      assert.deepEqual(handshakes.dtls.stats, { sessions: 0, handshaking: 0 });
      assert.equal(handshakes.events.find((e) => e.kind === "failed")?.reason, "handshake timed out");
      await handshakes.client(40072).transport.connect(SERVER);
      stalled.close();
    } finally {
      handshakes.close();
    }
  },
);

Deno.test(needsOpenSsl("an idle session expires; the client's next request resumes it"), async () => {
  const b = bench({ limits: { idleTimeout: 150 } });
  try {
    const { client } = coapClient(b.link, 40080);
    assert.equal((await client.get("coap://192.0.2.1:5684/temperature")).text(), "22.5");
    await delay(300);
    assert.deepEqual(b.dtls.stats, { sessions: 0, handshaking: 0 });
    assert.deepEqual(b.events.filter((e) => e.kind === "closed").map((e) => e.reason), ["idle"]);
    // The server's close_notify ended the client's session too: the next request opens a new one.
    const again = await client.get("coap://192.0.2.1:5684/temperature");
    assert.equal(again.text(), "22.5");
    assert.deepEqual(b.events.filter((e) => e.kind === "established").map((e) => e.resumed), [false, true]);
    client.close();
  } finally {
    b.close();
  }
});

Deno.test(
  needsOpenSsl("a ClientHello from an address with a session replaces it only after its cookie verifies"),
  async () => {
    const b = bench();
    try {
      const hellos: Uint8Array[] = [];
      // The first client will crash: after `crashed`, nothing it sends (its close_notify) reaches the link.
      let crashed = false;
      const wire = b.link.attach({ hostname: "192.0.2.9", port: 40090 });
      const transport = dtlsClientTransport({ ...wire, send: (batch) => crashed || wire.send(batch) }, {
        psk: PSK,
        onDatagram: (direction, { data }) => {
          if (direction === "out" && startsWithClientHello(data)) hellos.push(data.slice());
        },
      });
      transport.listen(() => {});
      await transport.connect(SERVER);
      // A forged ClientHello "from" the client's address (without a valid cookie): only a HelloVerifyRequest.
      const forger = rawAt(b.link, { hostname: "192.0.2.9", port: 40090 });
      forger.send([{ data: hellos[0], address: SERVER }]);
      await delay(20);
      assert.deepEqual(b.dtls.stats, { sessions: 1, handshaking: 0 });
      assert.ok(!b.events.some((event) => event.kind === "replaced"));
      forger.close();
      crashed = true;
      transport.close();
      // The same client restarted (its state lost): a full handshake, with a cookie, replaces the session.
      const restarted = b.client(40090);
      assert.equal((await restarted.transport.connect(SERVER)).resumed, false);
      assert.deepEqual(b.events.map((event) => event.kind), ["established", "replaced", "established"]);
      assert.deepEqual(b.dtls.stats, { sessions: 1, handshaking: 0 });
    } finally {
      b.close();
    }
  },
);

Deno.test(
  needsOpenSsl("1,000 ClientHellos from 1,000 ports that never answer leave no session state"),
  async () => {
    const dtls = dtlsServerTransport(udpTransport({ hostname: "127.0.0.1", port: 0 }), { psk: KEY });
    dtls.listen(() => {});
    // A real ClientHello, taken from a client's first flight.
    const hello = await new Promise<Uint8Array>((resolve) => {
      const probe = dtlsClientTransport(udpTransport({ hostname: "127.0.0.1" }), {
        psk: PSK,
        handshakeTimeout: 100,
        onDatagram: (direction, { data }) => {
          if (direction === "out") resolve(data.slice());
        },
      });
      probe.listen(() => {});
      probe.connect({ hostname: "127.0.0.1", port: 9 }).catch(() => probe.close());
    });
    const senders: Transport[] = [];
    let verifyRequests = 0;
    try {
      for (let i = 0; i < 1000; i++) {
        const sender = udpTransport({ hostname: "127.0.0.1", port: 0 });
        sender.listen((batch: Datagram[]) => {
          for (const { data } of batch) if (names(data)[0] === "HelloVerifyRequest") verifyRequests++;
        });
        sender.send([{ data: hello, address: dtls.local }]);
        senders.push(sender);
      }
      for (let wait = 0; wait < 100 && verifyRequests < 1000; wait++) await delay(20);
      assert.equal(verifyRequests, 1000);
      assert.deepEqual(dtls.stats, { sessions: 0, handshaking: 0 });
    } finally {
      for (const sender of senders) sender.close();
      dtls.close();
    }
  },
);

/** A client that sends its ClientHello with a cookie and then nothing: it holds a handshake slot. */
function stallAfterCookie(link: MemoryLink, port: number): Transport {
  // A real client whose transport lets only the HelloVerifyRequest through: it sends the ClientHello with
  // the cookie, and never hears the ServerHello.
  const stalled = link.attach({ hostname: "192.0.2.7", port });
  const inner = dtlsClientTransport(
    {
      local: stalled.local,
      listen: (receive) =>
        stalled.listen((batch) =>
          receive(batch.filter(({ data }) => names(data)[0] === "HelloVerifyRequest"))
        ),
      send: (batch) => stalled.send(batch),
      close: () => stalled.close(),
    },
    { psk: PSK, initialTimeout: 10_000, handshakeTimeout: 10_000 },
  );
  inner.listen(() => {});
  inner.connect(SERVER).catch(() => {});
  return inner;
}

/** A plain transport on the link, for sending forged datagrams. */
function rawAt(link: MemoryLink, address: { hostname: string; port: number }): Transport {
  const transport = link.attach(address);
  transport.listen(() => {});
  return transport;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test(needsOpenSsl("a handler sees the PSK identity of the session its request came over"), async () => {
  const whoami = new Site().add("whoami", { get: (request) => request.identity ?? "(coap://, no identity)" });
  const keys = { dev1: KEY, dev2: new TextEncoder().encode("other") };
  const server = new CoapServer(whoami, { hostname: "127.0.0.1", port: 0, dtls: { port: 0, pskKeys: keys } });
  const secure = `coaps://127.0.0.1:${server.secure!.address.port}/whoami`;
  try {
    for (const [identity, key] of Object.entries(keys)) {
      const client = new CoapClient({ dtls: { psk: { identity, key } } });
      assert.equal((await client.get(secure)).text(), identity);
      client.close();
    }
    const plain = new CoapClient();
    assert.equal(
      (await plain.get(`coap://127.0.0.1:${server.address.port}/whoami`)).text(),
      "(coap://, no identity)",
    );
    plain.close();
  } finally {
    server.close();
  }
});

Deno.test(
  needsOpenSsl(
    "a message OpenSSL will not encrypt (over 16 KiB) is reported, not thrown, and the session goes on",
  ),
  async () => {
    const errors: Error[] = [];
    const b = bench({ onError: (error) => errors.push(error) });
    try {
      const { transport, client } = coapClient(b.link, 40100);
      await transport.connect(SERVER);
      b.dtls.send([{ data: new Uint8Array(20_000), address: { hostname: "192.0.2.9", port: 40100 } }]);
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /SSL_write failed/);
      assert.equal((await client.get("coap://192.0.2.1:5684/temperature")).text(), "22.5");
      client.close();
    } finally {
      b.close();
    }
  },
);
