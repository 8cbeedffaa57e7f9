// Requests whose options break their definitions (issue 11), as raw datagrams into the real endpoint: each
// gets the answer RFC 7252 §5.4, RFC 7641 §2 and RFC 7959 §2.2 give it, no error reaches the logs, and the
// server keeps answering.
import assert from "node:assert/strict";
import {
  type Address,
  type CoapOption,
  CoapServer,
  Code,
  ContentFormat,
  encode,
  encodeBlock,
  encodeString,
  encodeUint,
  Endpoint,
  getOption,
  type Message,
  observable,
  OptionNumber,
  Site,
  Type,
  VirtualClock,
} from "../src/mod.ts";
import { injectedTransport } from "./_injected_transport.ts";

const CLIENT: Address = { hostname: "10.0.0.2", port: 40000 };
const empty = new Uint8Array(0);
const option = (number: number, value: Uint8Array): CoapOption => ({ number, value });
const path = (...segments: string[]) => segments.map((s) => option(OptionNumber.UriPath, encodeString(s)));

/** How `send` sends: CON with an empty payload and a token of its own by default. */
interface SendInit {
  type?: Type;
  payload?: Uint8Array;
  token?: Uint8Array;
}

/**
 * A server on an injected transport, with /led (GET, PUT), /upload (PUT: the body's size), /large (GET, 3000
 * bytes) and an observable /temperature; `errors` collects everything the server and its endpoint report,
 * `logs` the request log's paths, `seen` what the handlers were given.
 */
function testServer() {
  const wire = injectedTransport();
  const errors: unknown[] = [];
  const seen: { contentFormat?: number; size1?: Uint8Array; query: string[] }[] = [];
  let led = "off";
  const site = new Site()
    .add("led", {
      get: () => led,
      put: (request) => {
        seen.push({ contentFormat: request.contentFormat, query: request.query });
        led = request.text();
      },
    })
    .add("upload", {
      put: (request) => {
        seen.push({ size1: request.option(OptionNumber.Size1), query: request.query });
        return String(request.payload.length);
      },
    })
    .add("large", { get: () => "x".repeat(3000) })
    .add("temperature", observable({ get: () => "22.5" }));
  const endpoint = new Endpoint(wire.transport, {
    clock: new VirtualClock(),
    seed: 1,
    onError: (error) => errors.push(error),
  });
  const logs: string[] = [];
  const server = new CoapServer(site, {
    endpoint,
    // Option handling only: /large comes whole (amplification_test.ts covers what an unverified peer gets).
    amplification: { factor: Infinity },
    onError: (error) => errors.push(error),
    onLog: (entry) => logs.push(entry.path),
  });
  let messageId = 0x100;
  /** Sends a request (its own token unless given); returns the server's answer, undefined when there is none. */
  const send = (code: number, options: CoapOption[], init: SendInit = {}): Message | undefined => {
    const { type = Type.CON, payload = empty } = init;
    const before = wire.sent.length;
    const id = messageId++;
    wire.inject(
      CLIENT,
      encode({ type, code, messageId: id, token: init.token ?? encodeUint(id), options, payload }),
    );
    // Every handler here is synchronous: whatever the server sent by now answers this request.
    return wire.sent[before]?.message;
  };
  /** The server still answers an ordinary GET. */
  const stillAnswers = () => {
    const response = send(Code.Get, path("led"));
    assert.equal(response?.code, Code.Content);
    assert.equal(new TextDecoder().decode(response.payload), led);
  };
  return { server, send, stillAnswers, errors, logs, seen, led: () => led };
}

Deno.test("Block1 with the reserved SZX 7 gets 4.00 (RFC 7959 §2.2), with M=1 or M=0, and nothing is logged", () => {
  const { server, send, stillAnswers, errors } = testServer();
  try {
    for (const more of [true, false]) {
      // encodeBlock refuses SZX 7, as a sender must: NUM 0, M, SZX 7 by hand.
      const block1 = option(OptionNumber.Block1, Uint8Array.of((more ? 8 : 0) | 7));
      const response = send(Code.Put, [...path("upload"), block1], { payload: new Uint8Array(64) });
      assert.equal(response?.type, Type.ACK);
      assert.equal(response.code, Code.BadRequest);
      assert.equal(new TextDecoder().decode(response.payload), "Block1 SZX 7 is reserved");
      stillAnswers();
    }
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

Deno.test("Block2 with SZX 7 gets 4.00, not 1024-byte blocks; a NON gets a NON 4.00", () => {
  const { server, send, stillAnswers, errors } = testServer();
  try {
    const block2 = option(OptionNumber.Block2, Uint8Array.of(7));
    const response = send(Code.Get, [...path("large"), block2]);
    assert.equal(response?.code, Code.BadRequest);
    assert.equal(getOption(response, OptionNumber.Block2), undefined);
    const non = send(Code.Get, [...path("large"), block2], { type: Type.NON });
    assert.equal(non?.type, Type.NON);
    assert.equal(non.code, Code.BadRequest);
    // SZX 6 is still served.
    const block = send(Code.Get, [
      ...path("large"),
      option(OptionNumber.Block2, encodeBlock({ num: 0, more: false, szx: 6 })),
    ]);
    assert.equal(block?.code, Code.Content);
    assert.equal(block.payload.length, 1024);
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

/**
 * A PUT /led carrying `options` is treated as carrying an unrecognized critical option: 4.02 with a
 * diagnostic matching `diagnostic` for a CON, and (RFC 7252 §5.4.1) no answer at all for a NON.
 */
function assertUnrecognized(
  send: ReturnType<typeof testServer>["send"],
  options: CoapOption[],
  diagnostic: RegExp,
  name: string,
): void {
  const response = send(Code.Put, [...path("led"), ...options], { payload: encodeString("on") });
  assert.equal(response?.code, Code.BadOption, name);
  assert.match(new TextDecoder().decode(response.payload), diagnostic, name);
  assert.equal(
    send(Code.Put, [...path("led"), ...options], { type: Type.NON, payload: encodeString("on") }),
    undefined,
    name,
  );
}

Deno.test("a critical option repeated though not repeatable gets 4.02 for a CON, and a NON is rejected silently (RFC 7252 §5.4.5)", () => {
  const { server, send, stillAnswers, errors, seen } = testServer();
  try {
    const cases: CoapOption[][] = [
      [option(OptionNumber.UriHost, encodeString("a")), option(OptionNumber.UriHost, encodeString("b"))],
      [option(OptionNumber.UriPort, encodeUint(5683)), option(OptionNumber.UriPort, encodeUint(5684))],
      [option(OptionNumber.Accept, encodeUint(0)), option(OptionNumber.Accept, encodeUint(0))],
      [
        option(OptionNumber.Block1, encodeBlock({ num: 0, more: false, szx: 2 })),
        option(OptionNumber.Block1, encodeBlock({ num: 0, more: false, szx: 2 })),
      ],
      [option(OptionNumber.Block2, empty), option(OptionNumber.Block2, empty)],
      [option(OptionNumber.IfNoneMatch, empty), option(OptionNumber.IfNoneMatch, empty)],
    ];
    for (const options of cases) {
      assertUnrecognized(send, options, /is not repeatable/, `option ${options[0].number} twice`);
    }
    assert.deepEqual(seen, [], "no handler ran");
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

Deno.test("a critical option with a value length outside its definition gets 4.02 (RFC 7252 §5.4.3)", () => {
  const { server, send, stillAnswers, errors, seen } = testServer();
  try {
    const cases: [string, CoapOption][] = [
      ["Uri-Host of 0 bytes (1-255)", option(OptionNumber.UriHost, empty)],
      ["If-Match of 9 bytes (0-8)", option(OptionNumber.IfMatch, new Uint8Array(9))],
      ["If-None-Match of 1 byte (0-0)", option(OptionNumber.IfNoneMatch, Uint8Array.of(0))],
      ["Uri-Port of 3 bytes (0-2)", option(OptionNumber.UriPort, Uint8Array.of(0, 0x16, 0x33))],
      ["Accept of 3 bytes (0-2)", option(OptionNumber.Accept, Uint8Array.of(0, 0, 0))],
      ["Block1 of 4 bytes (0-3)", option(OptionNumber.Block1, Uint8Array.of(0, 0, 0, 2))],
      ["Block2 of 4 bytes (0-3)", option(OptionNumber.Block2, Uint8Array.of(0, 0, 0, 2))],
      ["Uri-Path of 256 bytes (0-255)", option(OptionNumber.UriPath, new Uint8Array(256).fill(0x61))],
      // A Proxy-Uri too short to be one is an unrecognized option, not a proxy request (5.05).
      ["Proxy-Uri of 0 bytes (1-1034)", option(OptionNumber.ProxyUri, empty)],
    ];
    for (const [name, bad] of cases) {
      assertUnrecognized(send, [bad], /has \d+ bytes \(\d+-\d+ allowed\)/, name);
    }
    assert.deepEqual(seen, [], "no handler ran");
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

Deno.test("elective options of a bad length are ignored, and of repeated ones the first occurrence is kept (RFC 7252 §5.4.1)", () => {
  const { server, send, stillAnswers, errors, seen } = testServer();
  try {
    // Content-Format of 3 bytes (0-2): the PUT is served as if it had none.
    const long = option(OptionNumber.ContentFormat, Uint8Array.of(0, 0, 0));
    assert.equal(send(Code.Put, [...path("led"), long], { payload: encodeString("on") })?.code, Code.Changed);
    // Content-Format twice: the second occurrence is supernumerary, the first stands.
    const twice = [
      option(OptionNumber.ContentFormat, encodeUint(ContentFormat.TextPlain)),
      option(OptionNumber.ContentFormat, encodeUint(ContentFormat.Json)),
    ];
    assert.equal(
      send(Code.Put, [...path("led"), ...twice], { payload: encodeString("off") })?.code,
      Code.Changed,
    );
    // Size1 of 5 bytes (0-4) would otherwise claim a body over the limit (4.13).
    const size1 = option(OptionNumber.Size1, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff));
    assert.equal(
      send(Code.Put, [...path("upload"), size1], { payload: encodeString("abc") })?.code,
      Code.Changed,
    );
    assert.deepEqual(seen, [
      { contentFormat: undefined, query: [] },
      { contentFormat: ContentFormat.TextPlain, query: [] },
      { size1: undefined, query: [] },
    ]);
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

Deno.test("Observe is a 0-3 byte uint: a 4-byte value is ignored, only 0 registers, only 1 deregisters (RFC 7641 §2)", () => {
  const { server, send, stillAnswers, errors } = testServer();
  const observe = (value: Uint8Array) =>
    send(Code.Get, [option(OptionNumber.Observe, value), ...path("temperature")]);
  try {
    // A 4-byte Observe 0: served as a plain GET, no registration, no Observe in the response.
    const long = observe(new Uint8Array(4));
    assert.equal(long?.code, Code.Content);
    assert.equal(getOption(long, OptionNumber.Observe), undefined);
    assert.equal(server.observerCount, 0);
    // Observe 2 is neither: a plain GET too.
    assert.equal(getOption(observe(encodeUint(2))!, OptionNumber.Observe), undefined);
    assert.equal(server.observerCount, 0);
    // Registered with Observe 0; then Observe 257 (0x0101, whose last byte is 1) is a plain GET and leaves
    // the observation alone; Observe 1 ends it. The same token names the same observation.
    const token = Uint8Array.of(0xaa);
    const withToken = (...values: Uint8Array[]) =>
      send(
        Code.Get,
        [...values.map((value) => option(OptionNumber.Observe, value)), ...path("temperature")],
        {
          token,
        },
      )!;
    assert.equal(getOption(withToken(empty), OptionNumber.Observe)?.length, 0, "registered, sequence 0");
    assert.equal(server.observerCount, 1);
    const plain = withToken(Uint8Array.of(1, 1));
    assert.equal(plain.code, Code.Content);
    assert.equal(getOption(plain, OptionNumber.Observe), undefined);
    assert.equal(server.observerCount, 1, "Observe 257 must not deregister");
    // Observe twice, 0 then 1: the second is supernumerary, so this is a registration again, not an end.
    withToken(empty, encodeUint(1));
    assert.equal(server.observerCount, 1);
    withToken(encodeUint(1));
    assert.equal(server.observerCount, 0);
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

Deno.test('Uri-Path keeps a leading U+FEFF: PUT "\\ufeffled" gets 4.04 and leaves /led alone; the log names what was asked', () => {
  const { server, send, stillAnswers, errors, logs, led } = testServer();
  try {
    const bom = path("\ufeffled");
    assert.equal(send(Code.Put, bom, { payload: encodeString("on") })?.code, Code.NotFound);
    assert.equal(led(), "off");
    assert.equal(send(Code.Get, bom)?.code, Code.NotFound);
    assert.deepEqual(logs, ["/%EF%BB%BFled", "/%EF%BB%BFled"]);
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});

Deno.test("Uri-Query reaches the handler byte for byte; Uri-Path or Uri-Query that is not UTF-8 gets 4.00", () => {
  const { server, send, stillAnswers, errors, seen } = testServer();
  try {
    const query = option(OptionNumber.UriQuery, encodeString("\ufeffmode=1"));
    assert.equal(
      send(Code.Put, [...path("led"), query], { payload: encodeString("on") })?.code,
      Code.Changed,
    );
    assert.deepEqual(seen.map((entry) => entry.query), [["\ufeffmode=1"]]);
    const notUtf8 = option(OptionNumber.UriPath, Uint8Array.of(0x6c, 0xff));
    const response = send(Code.Get, [notUtf8]);
    assert.equal(response?.code, Code.BadRequest);
    assert.equal(new TextDecoder().decode(response.payload), "Uri-Path or Uri-Query is not UTF-8");
    const badQuery = option(OptionNumber.UriQuery, Uint8Array.of(0xc3));
    assert.equal(send(Code.Get, [...path("led"), badQuery])?.code, Code.BadRequest);
    stillAnswers();
    assert.deepEqual(errors, []);
  } finally {
    server.close();
  }
});
