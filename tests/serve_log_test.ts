/**
 * What `serve` prints, as a log collector reads it: --log-format json lines, --log-level filtering,
 * --quiet as it always was, and a clean exit (code 0) on SIGTERM.
 */
import assert from "node:assert/strict";
import { CoapClient } from "../src/mod.ts";
import { runCli } from "./_cli.ts";
import { withServe } from "./_serve.ts";
import { ServerLog } from "../src/cli/server_log.ts";

async function getTwice(base: string): Promise<void> {
  const client = new CoapClient();
  try {
    assert.equal((await client.get(`${base}/temperature`)).codeString, "2.05");
    assert.equal((await client.get(`${base}/nothing-here`)).codeString, "4.04");
  } finally {
    client.close();
  }
}

Deno.test("serve --log-format json: one JSON object per line, a request's fields among them", async () => {
  const run = await withServe(["--log-format", "json"], getTwice);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.signal, null);
  const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(lines[0].msg.startsWith("CoAP server listening on coap://127.0.0.1:"), true);
  assert.match(lines[0].url, /^coap:\/\/127\.0\.0\.1:\d+$/);
  const requests = lines.filter((line) => line.msg === "request");
  assert.equal(requests.length, 2);
  const [temperature, missing] = requests;
  assert.equal(temperature.level, "info");
  assert.ok(!Number.isNaN(Date.parse(temperature.time)));
  assert.match(temperature.peer, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(
    [temperature.type, temperature.method, temperature.path, temperature.code, temperature.code_name],
    ["CON", "GET", "/temperature", "2.05", "Content"],
  );
  assert.equal(typeof temperature.elapsed_ms, "number");
  assert.ok(temperature.bytes >= 3);
  assert.deepEqual([missing.path, missing.code], ["/nothing-here", "4.04"]);
});

Deno.test("serve --log-level warn: no request lines, the listening line still", async () => {
  const run = await withServe(["--log-level", "warn"], getTwice);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim().split("\n").length, 1, run.stdout);
  assert.match(run.stdout, /^CoAP server listening on/);
  assert.doesNotMatch(run.stdout + run.stderr, /GET/);
});

Deno.test("serve: text request lines by default; --quiet prints none, as before", async () => {
  const text = await withServe([], getTwice);
  assert.match(text.stdout, /^\d\d:\d\d:\d\d\.\d{3} 127\.0\.0\.1:\d+ CON GET \/temperature → 2\.05 Content/m);
  const quiet = await withServe(["--quiet"], getTwice);
  assert.doesNotMatch(quiet.stdout, /GET/);
  assert.equal(quiet.code, 0, quiet.stderr);
});

Deno.test("serve --log-level debug prints the limits; json keeps them one object a line", async () => {
  const run = await withServe(["--log-level", "debug", "--log-format", "json"], async () => {});
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.ok(
    lines.some((line) => line.level === "debug" && /^ {2}maxBodySize +2 MiB$/.test(line.msg)),
  );
});

Deno.test("serve: an unknown --log-level or --log-format, or --quiet with --log-level, is exit 2", async () => {
  for (
    const [args, message] of [
      [["--log-level", "loud"], /--log-level loud: want one of debug, info, warn, error, quiet/],
      [["--log-format", "xml"], /--log-format xml: want one of text, json/],
      [["--quiet", "--log-level", "info"], /give --quiet or --log-level, not both/],
    ] as const
  ) {
    const result = await runCli(["serve", "--port", "0", ...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, message);
  }
});

Deno.test("ServerLog: a 5.03 (a limit reached) is a warning, other requests are info", () => {
  const printed: [string, string][] = [];
  const log = new ServerLog({
    level: "warn",
    format: "json",
    write: (line, level) => printed.push([level, line]),
  });
  const entry = {
    peer: { hostname: "127.0.0.1", port: 40000 },
    type: "CON",
    method: "GET",
    path: "/a",
    code: "2.05",
    codeName: "Content",
    payloadBytes: 1,
    elapsed: 0.1,
    separate: false,
  } as const;
  log.request(entry);
  log.request({ ...entry, code: "5.03", codeName: "Service Unavailable" });
  assert.deepEqual(printed.map(([level, line]) => [level, JSON.parse(line).code]), [["warn", "5.03"]]);
});

Deno.test("serve --log-level error --log-format json: a handler that throws is one error line on stderr", async () => {
  const dir = await Deno.makeTempDir();
  const mod = new URL("../src/mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    `${dir}/site.ts`,
    `import { Site } from "${mod}";\nexport default new Site().add("fail", { get: () => { throw new Error("disk on fire"); } });\n`,
  );
  try {
    const run = await withServe(
      ["--site", `${dir}/site.ts`, "--log-level", "error", "--log-format", "json"],
      async (base) => {
        const client = new CoapClient();
        try {
          assert.equal((await client.get(`${base}/fail`)).codeString, "5.00");
        } finally {
          client.close();
        }
      },
    );
    const errors = run.stderr.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(errors.length, 1, run.stderr);
    assert.equal(errors[0].level, "error");
    assert.equal(errors[0].msg, "handler for GET /fail failed: disk on fire");
    assert.match(errors[0].error, /disk on fire/);
    assert.doesNotMatch(run.stdout, /request/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
