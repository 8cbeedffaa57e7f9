/**
 * bench:device — the emulated sensor node: boot-to-ready time (QEMU start to
 * the firmware's "device ready") over several boots, and the round trip of a
 * CON GET /temperature through the bridge, the serial link and the firmware
 * under QEMU, next to the same GET against our Deno demo server, in one run.
 * One request at a time from our client. Prints a table; with --json one JSON
 * array of rows with a `ratio` field (that row's median over the Deno
 * server's: how many times slower the device path is).
 * @module
 */
import { parseArgs } from "node:util";
import { CoapClient, CoapServer } from "../src/mod.ts";
import { demoSite } from "../src/demo/demo_site.ts";
import { startDevice } from "../src/device/device.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    requests: { type: "string", default: "500" },
    boots: { type: "string", default: "5" },
  },
});
const requests = Number(values.requests);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function roundTrips(url: string): Promise<number[]> {
  const client = new CoapClient();
  try {
    for (let i = 0; i < 20; i++) await client.get(url); // warm-up
    const times: number[] = [];
    for (let i = 0; i < requests; i++) {
      const start = performance.now();
      await client.get(url);
      times.push(performance.now() - start);
    }
    return times.sort((a, b) => a - b);
  } finally {
    client.close();
  }
}

const boots: number[] = [];
for (let i = 0; i < Number(values.boots); i++) {
  const device = await startDevice({ seed: i + 1 });
  boots.push(device.bootMs);
  await device.stop();
}
boots.sort((a, b) => a - b);

const demo = demoSite({});
const server = new CoapServer(demo.site, { hostname: "127.0.0.1", port: 0 });
const denoTimes = await roundTrips(`coap://127.0.0.1:${server.address.port}/temperature`);
server.close();
demo.stop();

const device = await startDevice({ seed: 99 });
const deviceTimes = await roundTrips(`${device.url}/temperature`);
await device.stop();

const rows = [
  { name: "GET via Deno demo server (ours)", times: denoTimes },
  { name: "GET via bridge + QEMU device", times: deviceTimes },
].map(({ name, times }) => ({
  name,
  requests,
  median_ms: Number(percentile(times, 0.5).toFixed(3)),
  p99_ms: Number(percentile(times, 0.99).toFixed(3)),
  ratio: Number((percentile(times, 0.5) / percentile(denoTimes, 0.5)).toFixed(2)),
}));
const boot = {
  name: "boot to ready",
  boots: boots.length,
  median_ms: Number(percentile(boots, 0.5).toFixed(1)),
  max_ms: Number(boots[boots.length - 1].toFixed(1)),
};

if (values.json) {
  console.log(JSON.stringify([...rows, boot]));
} else {
  console.log(`boot to ready over ${boot.boots} boots: median ${boot.median_ms} ms, max ${boot.max_ms} ms`);
  console.log("row                               median ms   p99 ms   × Deno server");
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(34)}${row.median_ms.toFixed(3).padStart(9)}${row.p99_ms.toFixed(3).padStart(9)}${
        row.ratio.toFixed(2).padStart(13)
      }`,
    );
  }
}
