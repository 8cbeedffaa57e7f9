// node-coap as a server: node tests/peers/node_coap_server.mjs PORT [TICK_MS]
// GET /temperature → 2.05 "21.5"; GET /counter with Observe → a notification every TICK_MS (100);
// PUT /echo → 2.04 with the payload echoed; anything else 4.04.
import coap from "coap";

const port = Number(process.argv[2]);
const tickMs = Number(process.argv[3] ?? 100);
const server = coap.createServer((request, response) => {
  if (request.url === "/temperature" && request.method === "GET") {
    response.code = "2.05";
    response.setOption("Content-Format", "text/plain");
    response.end("21.5");
  } else if (request.url === "/counter" && request.method === "GET") {
    let count = 0;
    response.code = "2.05";
    if (request.headers.Observe !== 0) return response.end(String(count));
    response.write(String(count));
    const ticker = setInterval(() => response.write(String(++count)), tickMs);
    response.on("finish", () => clearInterval(ticker));
  } else if (request.url === "/echo" && request.method === "PUT") {
    response.code = "2.04";
    response.end(request.payload);
  } else {
    response.code = "4.04";
    response.end();
  }
});
server.listen(port, "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
