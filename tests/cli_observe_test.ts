// `observe` as a user runs it, against a fake server: Ctrl-C and SIGTERM
// deregister before the process exits; a silent server is asked again, each
// attempt reported on stderr, and a restarted one's lower numbers are taken;
// a notification over --max-body is dropped, named.
import assert from "node:assert/strict";
import {
  type CoapOption,
  Code,
  decodeUint,
  encodeBlock,
  encodeUint,
  type Message,
  OptionNumber,
  Type,
} from "../src/mod.ts";
import { finished, spawnCli } from "./_cli.ts";
import { piggybacked, scriptedServer } from "./_scripted_udp_server.ts";

const observeOf = (m: Message) => {
  const value = m.options.find((o) => o.number === OptionNumber.Observe)?.value;
  return value === undefined ? undefined : decodeUint(value);
};

/** The piggybacked 2.05 answering `request`, with Observe `sequence` (none when undefined) and Max-Age. */
function answer(request: Message, text: string, sequence?: number, maxAge = 60): Message {
  const options: CoapOption[] = [{ number: OptionNumber.MaxAge, value: encodeUint(maxAge) }];
  if (sequence !== undefined) options.unshift({ number: OptionNumber.Observe, value: encodeUint(sequence) });
  return piggybacked(request, { code: Code.Content, options, payload: new TextEncoder().encode(text) });
}

/** Reads `stream` until its text matches `pattern` (at most `ms`); returns the text so far and the rest of the stream's text. */
async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, ms = 10_000) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${ms} ms; got ${JSON.stringify(text)}`)),
      ms,
    );
  });
  try {
    while (!pattern.test(text)) {
      const chunk = await Promise.race([reader.read(), timeout]);
      if (chunk.done) throw new Error(`stream ended before ${pattern}; got ${JSON.stringify(text)}`);
      text += chunk.value;
    }
  } finally {
    clearTimeout(timer);
  }
  const rest = (async () => {
    let more = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) more += chunk.value;
    return text + more;
  })();
  return { text, rest };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`observe stopped by ${signal}: its deregistration (GET Observe=1) reaches the server before it exits`, async () => {
    const deregistered: number[] = [];
    const server = scriptedServer((request) => {
      if (observeOf(request) === 0) return [answer(request, "21.5", 7)];
      if (observeOf(request) === 1) {
        deregistered.push(performance.now());
        return [answer(request, "21.5")];
      }
    });
    try {
      const observer = spawnCli(["observe", `${server.uri}/temperature`]);
      const stdout = await readUntil(observer.stdout, /^registered .* "21\.5"\n/m);
      observer.kill(signal);
      const stderr = new Response(observer.stderr).text();
      const status = await observer.status;
      const exitedAt = performance.now();
      assert.equal(status.code, 0);
      assert.match(await stderr, new RegExp(`^${signal}: deregistering$`, "m"));
      assert.match(await stdout.rest, /^registered +seq 7 /);
      const [registration, deregistration] = server.received.filter((m) => observeOf(m) !== undefined);
      assert.equal(observeOf(deregistration), 1);
      assert.deepEqual(deregistration.token, registration.token);
      assert.equal(deregistered.length, 1);
      assert.ok(deregistered[0] < exitedAt);
    } finally {
      await server.close();
    }
  });
}

Deno.test("observe stopped while its registration goes unanswered exits at once", async () => {
  const server = scriptedServer(() => []);
  try {
    const observer = spawnCli(["observe", `${server.uri}/temperature`]);
    for (let wait = 0; server.received.length === 0 && wait < 100; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const signalled = performance.now();
    observer.kill("SIGINT");
    const { code } = await observer.output();
    assert.equal(code, 0);
    assert.ok(performance.now() - signalled < 2000, "not after the registration's 93 s of retransmissions");
  } finally {
    await server.close();
  }
});

Deno.test("observe against a server that goes silent and restarts: a stderr line per re-registration attempt, then the new numbers", async () => {
  const registrations: Message[] = [];
  const server = scriptedServer((request) => {
    if (observeOf(request) === 1) return [answer(request, "bye")];
    if (observeOf(request) !== 0) return [];
    if (!registrations.some((r) => r.messageId === request.messageId)) registrations.push(request);
    const attempt = registrations.findIndex((r) => r.messageId === request.messageId);
    // Max-Age 0: a re-registration 2 s later. The first attempt goes unanswered (down); the second finds the
    // server restarted, counting from 3 where it had reached 900.
    if (attempt === 0) return [answer(request, "before", 900, 0)];
    if (attempt === 2) return [answer(request, "after restart", 3)];
    return [];
  });
  try {
    const result = finished(
      await spawnCli(["observe", "--count", "1", `${server.uri}/temperature`]).output(),
    );
    assert.equal(result.code, 0, result.stderr);
    // Wall-clock seconds, loosely: a timer may fire a little late on a busy machine.
    assert.match(
      result.stderr,
      /^re-registering: attempt 1, no notification for 2(\.\d)? s; next attempt in 4 s\n/,
    );
    assert.match(
      result.stderr,
      /\nre-registering: attempt 2, no notification for 6(\.\d)? s; next attempt in 8 s\n$/,
    );
    assert.match(result.stdout, /^registered +seq 900 .*"before"\nnotification +seq 3 .*"after restart"\n$/);
    assert.equal(registrations.length, 3);
    assert.equal(observeOf(server.received.at(-1)!), 1, "--count reached: deregistered");
  } finally {
    await server.close();
  }
});

Deno.test("observe: a notification too large for --max-body is dropped with a line naming the limit; the next one is shown", async () => {
  const server = scriptedServer((request, from) => {
    if (observeOf(request) !== 0) return [answer(request, "bye")];
    const notify = (sequence: number, options: CoapOption[], payload: Uint8Array) =>
      server.send({
        type: Type.NON,
        code: Code.Content,
        messageId: 0x100 + sequence,
        token: request.token,
        options: [{ number: OptionNumber.Observe, value: encodeUint(sequence) }, ...options],
        payload,
      }, from);
    setTimeout(async () => {
      await notify(2, [
        { number: OptionNumber.Block2, value: encodeBlock({ num: 0, more: true, szx: 6 }) },
        { number: OptionNumber.Size2, value: encodeUint(419430400) },
      ], new Uint8Array(1024));
      // Apart, so the client has refused the first before the second arrives: in one received batch the
      // small one could complete the --count 1 first, and the process would exit before the drop line.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await notify(3, [], new TextEncoder().encode("small"));
    }, 100);
    return [answer(request, "first", 1)];
  });
  try {
    const result = finished(
      await spawnCli(["observe", "--count", "1", "--max-body", "2K", `${server.uri}/big`]).output(),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stderr,
      "notification dropped: response body exceeds --max-body 2048 bytes (Size2 says 419430400)\n",
    );
    assert.match(result.stdout, /\nnotification +seq 3 .*"small"\n$/);
  } finally {
    await server.close();
  }
});
