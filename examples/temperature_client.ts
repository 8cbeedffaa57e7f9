// The lab chapter's aiocoap client, in this library. Run: npx deno run -A examples/temperature_client.ts
import { CoapClient } from "../src/mod.ts";

const client = new CoapClient();
const response = await client.get(`coap://localhost:${Deno.args[0] ?? 5683}/temperature`);
console.log(response.codeString, response.codeName, response.text());
client.close();
