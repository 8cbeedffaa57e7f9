// `simulate observe`: the real client and server over a lossy in-memory link in
// virtual time — repeatable, the lab's CON-every-K pattern, retransmissions under loss.
import assert from "node:assert/strict";
import { simulateObserve } from "../src/tools/simulation.ts";
import { runCli } from "./_cli.ts";

Deno.test("the same seed gives the same timeline; another seed another one", async () => {
  const args = [
    "simulate",
    "observe",
    "--interval",
    "1",
    "--count",
    "12",
    "--con-every",
    "3",
    "--loss",
    "0.3",
  ];
  const first = await runCli([...args, "--seed", "7"]);
  const second = await runCli([...args, "--seed", "7"]);
  const other = await runCli([...args, "--seed", "8"]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, second.stdout);
  assert.notEqual(first.stdout, other.stdout);
  const lines = first.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ +time {2}client 10\.0\.0\.1:40000 +server 10\.0\.0\.2:5683$/);
  assert.match(
    lines.at(-2)!,
    // At most 12: a newer state takes over a CON still being retransmitted, and one replaced before it went
    // out is never sent (RFC 7641 §4.5.2).
    /^notifications: \d+ sent, \d+ delivered, \d+ lost {2}· {2}\d+ CON, \d+ NON$/,
  );
  assert.match(lines.at(-1)!, /^link: \d+ retransmissions {2}· {2}\d+ datagrams, \d+ lost on the link {2}· /);
});

Deno.test("no loss: every notification delivered, every K-th Confirmable and acknowledged, nothing retransmitted", async () => {
  const { events, summary } = await simulateObserve({
    interval: 2000,
    count: 10,
    conEvery: 5,
    loss: 0,
    seed: 1,
  });
  assert.deepEqual(
    [summary.sent, summary.delivered, summary.lost, summary.confirmable, summary.nonConfirmable],
    [10, 10, 0, 2, 8],
  );
  assert.equal(summary.retransmissions, 0);
  assert.equal(summary.dropped, 0);
  const notifications = events.filter((e) => e.sender === "server" && e.message!.type !== 2);
  assert.deepEqual(notifications.map((e) => e.message!.type === 0 ? "CON" : "NON"), [
    "NON",
    "NON",
    "NON",
    "NON",
    "CON",
    "NON",
    "NON",
    "NON",
    "NON",
    "CON",
  ]);
  // Same token as the registration throughout, a new Message ID each time; two seconds apart in virtual time.
  const token = events[0].message!.token.join();
  assert.ok(notifications.every((e) => e.message!.token.join() === token));
  assert.equal(new Set(notifications.map((e) => e.message!.messageId)).size, 10);
  assert.deepEqual(notifications.slice(1).map((e, i) => e.at - notifications[i].at), Array(9).fill(2000));
  // Each CON notification is followed by the client's empty ACK with its Message ID.
  for (const con of notifications.filter((e) => e.message!.type === 0)) {
    const ack = events[events.indexOf(con) + 1];
    assert.deepEqual([ack.sender, ack.message!.type, ack.message!.code, ack.message!.messageId], [
      "client",
      2,
      0,
      con.message!.messageId,
    ]);
  }
});

Deno.test("with loss, lost CONs are retransmitted, and a notification is delivered exactly when a copy got through", async () => {
  const { events, summary } = await simulateObserve({
    interval: 5000,
    count: 20,
    conEvery: 1,
    loss: 0.3,
    seed: 3,
  });
  assert.ok(summary.dropped > 0);
  assert.ok(summary.retransmissions > 0);
  // Every retransmission repeats a CON its sender sent earlier: same Message ID, same bytes.
  for (const again of events.filter((e) => (e.retransmission ?? 0) > 0)) {
    assert.equal(again.message!.type, 0);
    const original = events.find((e) =>
      e.sender === again.sender && e.message!.type === 0 && !e.retransmission &&
      e.message!.messageId === again.message!.messageId
    );
    assert.deepEqual(original?.bytes, again.bytes);
  }
  // A notification is delivered exactly when one of its transmissions got through the link.
  const notifications = events.filter((e) =>
    e.sender === "server" && e.message!.type === 0 && !e.retransmission
  );
  const reached = notifications.filter((n) =>
    events.some((e) => e.sender === "server" && e.message!.messageId === n.message!.messageId && !e.lost)
  );
  // A newer state took over CONs still being retransmitted (RFC 7641 §4.5.2): fewer than 20 went out, each
  // a new Message ID on the old one's schedule.
  assert.equal(notifications.length, summary.sent);
  assert.ok(summary.sent < 20 && summary.sent > 10, `${summary.sent} sent`);
  assert.ok(reached.length < summary.sent, "this seed loses some notification with all its retransmissions");
  assert.equal(summary.delivered, reached.length);
  assert.equal(summary.confirmable, summary.sent);
});

Deno.test("--json gives the events and the summary; bad flags exit 2", async () => {
  const json = await runCli(["simulate", "observe", "--count", "3", "--con-every", "1", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.summary.delivered, 3);
  assert.deepEqual(parsed.events.map((e: { sender: string; type: string }) => `${e.sender} ${e.type}`), [
    "client CON",
    "server ACK",
    "server CON",
    "client ACK",
    "server CON",
    "client ACK",
    "server CON",
    "client ACK",
  ]);
  for (
    const args of [
      ["simulate"],
      ["simulate", "watch"],
      ["simulate", "observe", "--loss", "1.5"],
      ["simulate", "observe", "--loss", ""],
      ["simulate", "observe", "--count", "0"],
      ["simulate", "observe", "--interval", "-1"],
      ["simulate", "observe", "--con-every", "x"],
      ["simulate", "observe", "--seed", "1e3"],
      ["simulate", "observe", "--bogus"],
    ]
  ) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /^error: /);
  }
});
