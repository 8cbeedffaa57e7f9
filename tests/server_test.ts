// The server and client over real UDP on loopback: every method and response
// class, discovery with filters, 1,000 concurrent requests answered out of
// order, IPv6, and garbage that must not stop the server.
import assert from "node:assert/strict";
import {
  CoapClient,
  CoapError,
  CoapServer,
  Code,
  ContentFormat,
  decode,
  encode,
  type Message,
  OptionNumber,
  type ServerOptions,
  Site,
  TimeoutError,
  Type,
  wellKnownCore,
} from "../src/mod.ts";
import { bytes } from "./_hex.ts";
import { randomBytes, randomInt, seededRandom } from "./_random.ts";

function startServer(site: Site, hostname = "127.0.0.1", options: ServerOptions = {}) {
  const errors: unknown[] = [];
  const server = new CoapServer(site, {
    hostname,
    port: 0,
    onError: (error) => errors.push(error),
    ...options,
  });
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return { server, errors, base: `coap://${host}:${server.address.port}` };
}

Deno.test("every method and response class, over UDP", async () => {
  let stored = "initial";
  const site = new Site()
    .add("item", {
      get: () => stored,
      put: (request) => {
        stored = request.text();
      },
      post: (request) => ({
        code: Code.Created,
        locationPath: `/item/${request.text()}`,
        locationQuery: "v=1&x=a%26b",
      }),
      delete: () => ({ code: Code.Deleted }),
    })
    .add("broken", {
      get: () => {
        throw new Error("secret database password in this message");
      },
    })
    .add("forbidden", { get: () => Promise.reject(new CoapError(Code.Forbidden, "no")) })
    .add("json", { get: () => ({ payload: "{}", contentFormat: ContentFormat.Json }) })
    // An option no message can hold: the answer cannot be encoded at all.
    .add("huge", { get: () => ({ options: [{ number: 65000, value: new Uint8Array(9000) }] }) });
  const { server, errors, base } = startServer(site);
  const client = new CoapClient();
  try {
    const got = await client.get(`${base}/item`);
    assert.deepEqual([got.codeString, got.codeName, got.text(), got.contentFormat], [
      "2.05",
      "Content",
      "initial",
      0,
    ]);
    assert.ok(got.isSuccess && !got.isClientError && !got.isServerError);
    assert.equal((await client.put(`${base}/item`, "changed")).codeString, "2.04");
    assert.equal((await client.get(`${base}/item`)).text(), "changed");
    const created = await client.post(`${base}/item`, "7");
    assert.equal(created.codeString, "2.01");
    assert.deepEqual(
      created.message.options.filter((o) => o.number === OptionNumber.LocationPath).map((o) =>
        new TextDecoder().decode(o.value)
      ),
      ["item", "7"],
    );
    assert.deepEqual(
      created.message.options.filter((o) => o.number === OptionNumber.LocationQuery).map((o) =>
        new TextDecoder().decode(o.value)
      ),
      ["v=1", "x=a&b"],
      "Location-Query, one option per argument (RFC 7252 §5.10.7)",
    );
    assert.equal((await client.delete(`${base}/item`)).codeString, "2.02");
    const missing = await client.get(`${base}/nothing/here`);
    assert.equal(missing.codeString, "4.04");
    assert.ok(missing.isClientError);
    assert.equal((await client.delete(`${base}/json`)).codeString, "4.05");
    const badOption = await client.get(`${base}/item`, { options: [{ number: 2049, value: bytes("01") }] });
    assert.equal(badOption.codeString, "4.02", "an unrecognized critical option");
    await assert.rejects(
      client.get(`${base}/item`, {
        confirmable: false,
        timeout: 300,
        options: [{ number: 2049, value: bytes("01") }],
      }),
      TimeoutError,
      "a NON with an unrecognized critical option is rejected silently (RFC 7252 §5.4.1)",
    );
    const elective = await client.get(`${base}/item`, { options: [{ number: 2048, value: bytes("01") }] });
    assert.equal(elective.codeString, "2.05", "an unrecognized elective option is ignored");
    const notUtf8 = await client.get(`${base}/`, {
      options: [{ number: OptionNumber.UriPath, value: bytes("ff") }],
    });
    assert.equal(notUtf8.codeString, "4.00");
    const failed = await client.get(`${base}/broken`);
    assert.equal(failed.codeString, "5.00");
    assert.ok(failed.isServerError);
    assert.equal(failed.text(), "", "the handler's error is not leaked");
    assert.equal(errors.length, 1, "but it is reported to the server's owner");
    const forbidden = await client.get(`${base}/forbidden`);
    assert.deepEqual([forbidden.codeString, forbidden.text()], ["4.03", "no"]);
    assert.equal((await client.get(`${base}/json`, { accept: ContentFormat.TextPlain })).codeString, "4.06");
    assert.equal((await client.get(`${base}/json`, { accept: ContentFormat.Json })).codeString, "2.05");
    const proxied = await client.get(`${base}/item`, {
      options: [{ number: OptionNumber.ProxyUri, value: new TextEncoder().encode("coap://elsewhere/") }],
    });
    assert.equal(proxied.codeString, "5.05");
    const huge = await client.get(`${base}/huge`);
    assert.deepEqual([huge.codeString, huge.text()], ["5.00", "response could not be encoded"]);
    assert.equal(errors.length, 2);
    const non = await client.get(`${base}/item`, { confirmable: false });
    assert.deepEqual([non.message.type, non.codeString], [Type.NON, "2.05"]);
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("/.well-known/core lists the site with RFC 6690 attributes and filters by rt, if, href and * suffixes", async () => {
  const site = new Site()
    .add("sensors/temp", {
      rt: ["temperature-c", "sensor"],
      if: "sensor",
      ct: 0,
      obs: true,
      title: "Temp",
      get: () => "",
    })
    .add("sensors/light", { rt: "light-lux", if: "sensor", get: () => "" })
    .add("led", { rt: "light", if: "actuator", sz: 3, get: () => "" });
  const { server, base } = startServer(site);
  const client = new CoapClient();
  const discover = async (query = "") => {
    const response = await client.get(`${base}/.well-known/core${query}`);
    assert.equal(response.contentFormat, ContentFormat.LinkFormat);
    return response.text();
  };
  try {
    assert.equal(
      await discover(),
      '</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0;title="Temp";obs,' +
        '</sensors/light>;rt="light-lux";if="sensor",</led>;rt="light";if="actuator";sz=3',
    );
    assert.equal(await discover("?rt=light"), '</led>;rt="light";if="actuator";sz=3');
    assert.equal(
      await discover("?rt=light*"),
      '</sensors/light>;rt="light-lux";if="sensor",</led>;rt="light";if="actuator";sz=3',
    );
    assert.equal(
      await discover("?rt=sensor"),
      '</sensors/temp>;rt="temperature-c sensor";if="sensor";ct=0;title="Temp";obs',
    );
    assert.match(await discover("?if=actuator"), /^<\/led>[^,]*$/);
    assert.equal((await discover("?href=/sensors/*")).split(",").length, 2);
    assert.equal(await discover("?href=/led"), '</led>;rt="light";if="actuator";sz=3');
    assert.equal(await discover("?rt=nothing"), "");
    assert.equal((await client.put(`${base}/.well-known/core`, "x")).codeString, "4.05");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("1,000 concurrent requests answered out of order all match by token", async () => {
  const random = seededRandom(1000);
  const delays = Array.from({ length: 1000 }, () => randomInt(random, 40));
  const site = new Site().add("echo", {
    get: async (request) => {
      const n = Number(request.queryParam("n"));
      await new Promise((resolve) => setTimeout(resolve, delays[n]));
      return `reply ${n}`;
    },
  });
  // A client that keeps 1,000 requests outstanding (NSTART 1000) needs a server that takes them from one peer.
  const { server, base } = startServer(site, "127.0.0.1", { maxPendingPerPeer: 1000 });
  const client = new CoapClient({ parameters: { nstart: 1000 } });
  const order: number[] = [];
  try {
    const responses = await Promise.all(
      delays.map((_, n) =>
        client.get(`${base}/echo?n=${n}`).then((response) => {
          order.push(n);
          return response;
        })
      ),
    );
    responses.forEach((response, n) => assert.equal(response.text(), `reply ${n}`));
    const inOrder = order.every((n, i) => i === 0 || order[i - 1] < n);
    assert.ok(!inOrder, "responses should have arrived out of order");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("IPv6: the server binds ::1 and the client reaches it", async () => {
  const { server, base } = startServer(new Site().add("v6", { get: () => "six" }), "::1");
  const client = new CoapClient();
  try {
    assert.equal((await client.get(`${base}/v6`)).text(), "six");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("malformed datagrams never stop the server; format-error CONs get RST; valid GETs still work", async () => {
  const { server, base } = startServer(new Site().add("ok", { get: () => "fine" }));
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port: server.address.port };
  const client = new CoapClient();
  try {
    const random = seededRandom(666);
    const garbage = [
      bytes(""),
      bytes("40"),
      bytes("4001"),
      bytes("490112340102030405060708aa"), // TKL 9
      bytes("4f011234"), // TKL 15
      bytes("40011234f1"), // delta nibble 15
      bytes("400112341f"), // length nibble 15
      bytes("40011234d0"), // missing extension
      bytes("40011234ff"), // marker, no payload
      bytes("80011234"), // version 2
      ...Array.from({ length: 300 }, () => randomBytes(random, randomInt(random, 64))),
    ];
    for (const [i, datagram] of garbage.entries()) {
      await socket.send(datagram, target);
      // Paced, so the server's socket buffer does not overflow and drop the valid request below.
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Of the fixed cases, these are CONs with a format error after a readable header: each gets an RST.
    const expectedResets = new Set([0x1234]);
    const received: Message[] = [];
    const reader = (async () => {
      for await (const [data] of socket) received.push(decode(data));
    })();
    assert.equal((await client.get(`${base}/ok`)).text(), "fine");
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.close();
    await reader.catch(() => {});
    const resets = received.filter((m) => m.type === Type.RST && expectedResets.has(m.messageId));
    assert.ok(resets.length >= 6, `expected RSTs for the malformed CONs, got ${resets.length}`);
    assert.ok(received.every((m) => m.type === Type.RST || m.type === Type.ACK));
    assert.equal((await client.get(`${base}/ok`)).text(), "fine");
  } finally {
    client.close();
    server.close();
  }
});

Deno.test("rt and if given as one space-separated string or as an array print and filter alike (RFC 6690 §3.1)", () => {
  const site = new Site()
    .add("one", { get: () => "", rt: "Type1 Type2", if: "sensor", ct: [0, 40] })
    .add("two", { get: () => "", rt: ["Type1", "Type2"], if: ["sensor"], ct: [0, 40] });
  assert.equal(
    wellKnownCore(site),
    '</one>;rt="Type1 Type2";if="sensor";ct="0 40",</two>;rt="Type1 Type2";if="sensor";ct="0 40"',
  );
  assert.equal(
    wellKnownCore(site, "rt=Type2"),
    '</one>;rt="Type1 Type2";if="sensor";ct="0 40",</two>;rt="Type1 Type2";if="sensor";ct="0 40"',
  );
  assert.equal(wellKnownCore(site, "ct=40").split(",").length, 2);
  assert.equal(wellKnownCore(site, "rt=Type3"), "");
});

Deno.test("a handler that calls request.acknowledge() gets its empty ACK sent at once and its answer sent as a CON", async () => {
  const site = new Site()
    .add("async", {
      post: async (request) => {
        request.acknowledge();
        await new Promise((resolve) => setTimeout(resolve, 50));
        return "later";
      },
    })
    .add("sync", {
      post: (request) => {
        request.acknowledge();
        return "now";
      },
    });
  const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0, separateResponseDelay: 10_000 });
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const target = { transport: "udp" as const, hostname: "127.0.0.1", port: server.address.port };
  try {
    for (const [path, messageId] of [["async", 0x51], ["sync", 0x52]] as const) {
      const token = Uint8Array.of(messageId);
      await socket.send(
        encode({
          type: Type.CON,
          code: Code.Post,
          messageId,
          token,
          options: [{ number: OptionNumber.UriPath, value: new TextEncoder().encode(path) }],
          payload: new Uint8Array(),
        }),
        target,
      );
      const ack = decode((await socket.receive())[0]);
      assert.deepEqual(
        [ack.type, ack.code, ack.messageId],
        [Type.ACK, 0, messageId],
        `${path}: the empty ACK`,
      );
      const [data, from] = await socket.receive();
      const separate = decode(data);
      assert.deepEqual([separate.type, separate.code], [Type.CON, Code.Changed], path);
      assert.deepEqual(separate.token, token);
      assert.notEqual(separate.messageId, messageId);
      await socket.send(
        encode({
          type: Type.ACK,
          code: 0,
          messageId: separate.messageId,
          token: new Uint8Array(),
          options: [],
          payload: new Uint8Array(),
        }),
        from as Deno.NetAddr,
      );
    }
  } finally {
    socket.close();
    server.close();
  }
});

Deno.test("a CoapServer given no hostname binds dual-stack '::': reached over 127.0.0.1 and ::1", async () => {
  const server = new CoapServer(new Site().add("x", { get: () => "x" }), { port: 0 });
  const client = new CoapClient();
  try {
    assert.equal(server.address.hostname, "::");
    for (const host of ["127.0.0.1", "[::1]"]) {
      assert.equal((await client.get(`coap://${host}:${server.address.port}/x`)).text(), "x");
    }
  } finally {
    client.close();
    server.close();
  }
});
