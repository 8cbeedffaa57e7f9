/**
 * The server side of bench:observe: the demo site (its /temperature changes every 2 s, as `serve`'s) on
 * 127.0.0.1:`argv[0]`, with the bounds that would refuse most of the bench's observers raised. The bench's
 * 10,000 observers are all on one address, each on its own port: the defaults admit 256 observations
 * from one IP address (observeLimits.perAddress) and keep 8,192 peers, so `serve` would be measured with
 * 256 observers, not 10,000. Runs until killed.
 * @module
 */
import { CoapServer } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";

/** Room for this many observers, each its own peer, from one address. */
const OBSERVERS = 100_000;
/** The demo's Observe pattern, as `serve` runs it. */
const DRIFT_EVERY_MS = 2000;

const port = Number(Deno.args[0] ?? 5683);
const demo = demoSite({ driftEvery: DRIFT_EVERY_MS });
new CoapServer(demo.site, {
  hostname: "127.0.0.1",
  port,
  limits: { peers: OBSERVERS, retransmitSlots: OBSERVERS },
  observeLimits: { perAddress: OBSERVERS, perResource: OBSERVERS, total: OBSERVERS },
  onError: () => {},
});
