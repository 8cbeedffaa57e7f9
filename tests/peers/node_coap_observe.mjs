// node-coap observing a resource: node tests/peers/node_coap_observe.mjs URL COUNT
// Prints a JSON array of the first COUNT payloads (registration response included), or {error} after 10 s.
import coap from "coap";

const [url, count] = [new URL(process.argv[2]), Number(process.argv[3])];
const payloads = [];
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout", payloads }));
  process.exit(1);
}, 10000);
const request = coap.request({
  hostname: url.hostname,
  port: Number(url.port),
  pathname: url.pathname,
  observe: true,
});
request.on("response", (response) => {
  response.on("data", (chunk) => {
    payloads.push(chunk.toString());
    if (payloads.length >= count) {
      clearTimeout(timer);
      response.close();
      console.log(JSON.stringify(payloads));
      setTimeout(() => process.exit(0), 100);
    }
  });
});
request.end();
