// Requests through a relay that drops 20 % and then 50 % of datagrams in each
// direction (and duplicates and reorders some): every request completes or
// fails with TimeoutError, and no PUT/POST handler runs twice for one request.
import assert from "node:assert/strict";
import { CoapClient, CoapServer, Site, TimeoutError } from "../src/mod.ts";
import { startLossyRelay } from "./_lossy_relay.ts";

const REQUESTS = 100;

for (const loss of [0.2, 0.5]) {
  Deno.test(`${loss * 100} % loss each way: complete or TimeoutError, never a handler run twice`, async () => {
    const runs = new Map<string, number>();
    const record = (body: string) => runs.set(body, (runs.get(body) ?? 0) + 1);
    const site = new Site().add("store", {
      put: (request) => {
        record(request.text());
        return { payload: `stored ${request.text()}` };
      },
      post: (request) => {
        record(request.text());
        return { payload: `posted ${request.text()}` };
      },
    });
    const server = new CoapServer(site, { hostname: "127.0.0.1", port: 0 });
    const relay = startLossyRelay(server.address.port, {
      loss,
      duplicate: 0.05,
      jitter: 3,
      seed: loss * 100,
    });
    // Short timeouts keep the test quick; the protocol logic is the same at any scale.
    const client = new CoapClient({ parameters: { ackTimeout: 20, nstart: REQUESTS } });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: REQUESTS }, async (_, i) => {
          const method = i % 2 === 0 ? "put" : "post";
          try {
            const response = await client[method](`coap://127.0.0.1:${relay.port}/store`, `#${i}`);
            assert.equal(response.text(), `${method === "put" ? "stored" : "posted"} #${i}`);
            return "completed";
          } catch (error) {
            assert.ok(error instanceof TimeoutError, `request ${i} failed with ${error}`);
            return "timed out";
          }
        }),
      );
      for (const [body, count] of runs) assert.equal(count, 1, `handler ran ${count} times for ${body}`);
      const completed = outcomes.filter((outcome) => outcome === "completed").length;
      assert.ok(relay.dropped > 0);
      // With 5 transmissions, a request is lost for good with probability (1 - (1 - loss)²)^5: 0.6 % at 20 %, 24 % at 50 %.
      assert.ok(completed >= (loss === 0.2 ? 95 : 55), `only ${completed} of ${REQUESTS} completed`);
    } finally {
      client.close();
      relay.close();
      server.close();
    }
  });
}
