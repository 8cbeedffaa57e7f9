// The decode and encode commands, run as a user runs them.
import assert from "node:assert/strict";
import { runCli } from "./_cli.ts";

const LAB_GET = "44011234abcd1234bb74656d7065726174757265";

Deno.test("decode --json reports the lab's GET /temperature", async () => {
  const { code, stdout } = await runCli(["decode", "--json", LAB_GET]);
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(stdout), {
    type: "CON",
    code: "0.01",
    codeName: "GET",
    messageId: 4660,
    token: "abcd1234",
    options: [{ number: 11, name: "Uri-Path", value: "temperature" }],
    payload: "",
  });
});

Deno.test("decode explains each header field with its bits, each option with its nibbles", async () => {
  const { code, stdout } = await runCli(["decode", "6245 0001 beef c0 e1 06dc 0a ff 32322e35"]);
  assert.equal(code, 0);
  assert.match(stdout, /01 10 0010\s+Ver 1 \| T 2 \(ACK\) \| TKL 2/);
  assert.match(stdout, /010 00101\s+Code 2\.05 Content/);
  assert.match(stdout, /Message ID 1 \(0x0001\)/);
  assert.match(stdout, /Token beef/);
  assert.match(stdout, /1100 0000\s+Option delta 12, length 0 → 0 \+ 12 = #12 Content-Format/);
  assert.match(stdout, /value: 0 \(text\/plain;charset=utf-8\)/);
  assert.match(stdout, /Option delta 14 \(extended\), length 1/);
  assert.match(stdout, /delta extension: 269 \+ 1756 = 2025 → 12 \+ 2025 = #2037 Unknown-2037/);
  assert.match(stdout, /11111111\s+Payload marker/);
  assert.match(stdout, /Payload, 4 bytes: "22\.5"/);
});

Deno.test("decode --json gives a binary payload as payloadHex", async () => {
  const { stdout } = await runCli(["decode", "--json", "60450001ff80ff"]);
  assert.equal(JSON.parse(stdout).payloadHex, "80ff");
});

Deno.test("encode builds what decode reads back", async () => {
  const encoded = await runCli([
    "encode",
    "--type",
    "CON",
    "--code",
    "GET",
    "--mid",
    "0x1234",
    "--token",
    "abcd",
    "--path",
    "/temperature",
    "--query",
    "a=1",
    "--content-format",
    "0",
    "--payload",
    "22.5",
  ]);
  assert.equal(encoded.code, 0, encoded.stderr);
  const decoded = JSON.parse((await runCli(["decode", "--json", encoded.stdout.trim()])).stdout);
  assert.deepEqual(decoded, {
    type: "CON",
    code: "0.01",
    codeName: "GET",
    messageId: 0x1234,
    token: "abcd",
    options: [
      { number: 11, name: "Uri-Path", value: "temperature" },
      { number: 12, name: "Content-Format", value: 0 },
      { number: 15, name: "Uri-Query", value: "a=1" },
    ],
    payload: "22.5",
  });
});

Deno.test("bad input exits 2 with a reason that names the problem", async () => {
  for (
    const [args, reason] of [
      [["decode", "4f01"], /reserved token length 15 at byte 0/],
      [["decode", "44011234abcd12"], /truncated token at byte 4 \(needs 4, has 3\)/],
      [["decode", "401"], /odd number of hex digits/],
      [["decode", "40zz"], /not a hex digit/],
      [["decode"], /missing HEX/],
      [["decode", "--bogus", "40011234"], /Unknown option '--bogus'/],
      [["encode", "--code", "teapot"], /unknown code "teapot"/],
      [["encode", "--token", "00112233445566778899"], /at most 8/],
      [["encode", "--mid", "70000"], /--mid 70000: expected an integer 0\.\.65535/],
      [["encode", "--block2", "1/2/3"], /expected NUM\/M\/SZX/],
      [["frobnicate"], /unknown command "frobnicate"/],
    ] as const
  ) {
    const { code, stderr } = await runCli([...args]);
    assert.equal(code, 2, `${args.join(" ")} exited ${code}`);
    assert.match(stderr, reason);
  }
});
