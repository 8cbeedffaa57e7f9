// Run by observe_test.ts with --v8-flags=--expose-gc: the silent-observer attack (64 registrations from one
// port that never answers, _silent_observers.ts) for 300 s of virtual time, printing live memory before it,
// once the observations are in, and after the server stopped sending.
import { liveBytes } from "./_memory.ts";
import { silentObservers } from "./_silent_observers.ts";

// Warm up, so code and tables are in place before measuring.
await silentObservers(64, 120_000);
const before = await liveBytes();
let registered = 0;
const run = await silentObservers(64, 300_000, async () => {
  registered = await liveBytes();
});
const after = await liveBytes();
console.log(JSON.stringify({ ...run, before, registered, after }));
