// node-coap as a client: node tests/peers/node_coap_client.mjs METHOD URL [PAYLOAD]
// Prints {code, payload} of the response as JSON, or {error} after 5 s.
import coap from "coap";

const [method, url, payload] = process.argv.slice(2);
const request = coap.request({ ...parse(url), method });
const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout" }));
  process.exit(1);
}, 5000);
request.on("response", (response) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ code: response.code, payload: response.payload.toString() }));
  process.exit(0);
});
request.on("error", (error) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ error: String(error) }));
  process.exit(1);
});
if (payload !== undefined) request.write(payload);
request.end();

function parse(text) {
  const url = new URL(text);
  return {
    // node-coap wants an IPv6 literal without the brackets a URL keeps.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port),
    pathname: url.pathname,
    query: url.search.slice(1),
  };
}
