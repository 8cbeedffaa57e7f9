// The lab chapter's aiocoap server (TemperatureResource with render_get and
// render_put), in this library. Run: npx deno run -A examples/temperature_server.ts
import { CoapServer, Site } from "../src/mod.ts";

const site = new Site().add("temperature", {
  get: () => "22.5", // 2.05 Content, text/plain
  put: (request) => console.log(`Received PUT: ${request.text()}`), // 2.04 Changed
});
const port = Number(Deno.args[0] ?? 5683); // the tests pass a free port
new CoapServer(site, { port });
console.log(`CoAP server started on port ${port}`);
