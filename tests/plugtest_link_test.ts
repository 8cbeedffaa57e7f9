// The ETSI CoAP#4 plugtest (td-coap4) LINK test descriptions against the plugtest server: discovery of
// /.well-known/core and its filters (RFC 6690 §4.1), driven by libcoap's coap-client-notls.
import assert from "node:assert/strict";
import { coapClient, printedOption, servePlugtest } from "./_plugtest.ts";
import { needs, runCommand } from "./_peers.ts";
import { parseLinkFormat } from "../src/tools/link_format.ts";

/** A TD driven by coap-client, against a fresh plugtest server. */
function linkTd(name: string, steps: (base: string) => Promise<void>) {
  Deno.test(needs(name, ["coap-client-notls"], "libcoap3-bin"), async () => {
    const server = servePlugtest();
    try {
      await steps(server.base);
    } finally {
      server.close();
    }
  });
}

/** The links of the body coap-client got for `uri` (block-wise when it is large), by href. */
async function links(uri: string): Promise<Map<string, string>> {
  const result = await runCommand("coap-client-notls", ["-B", "10", "-m", "get", uri], 20_000);
  assert.equal(result.code, 0, result.stderr);
  const body = result.stdout.trim();
  assert.notEqual(body, "", "an empty answer");
  // Split as RFC 6690 reads it, so a comma inside a quoted title does not cut a link in two.
  const parsed = parseLinkFormat(body);
  const raw = body.match(/<[^>]*>(?:"(?:[^"\\]|\\.)*"|[^,"])*/g) ?? [];
  return new Map(parsed.map((link, i) => [link.href, raw[i]]));
}

/** The hrefs a filtered discovery answers with, in order. */
async function hrefs(base: string, query: string): Promise<string[]> {
  return [...(await links(`${base}/.well-known/core?${query}`)).keys()];
}

linkTd(
  "TD_COAP_LINK_01 GET /.well-known/core: 2.05, application/link-format, every resource",
  async (base) => {
    const { pdus } = await coapClient(["-m", "get", `${base}/.well-known/core`]);
    const response = pdus.find((pdu) => pdu.code === "2.05");
    assert.ok(response !== undefined);
    assert.deepEqual(printedOption(response, "Content-Format"), ["application/link-format"]);
    const all = await links(`${base}/.well-known/core`);
    for (
      const href of ["/test", "/separate", "/validate", "/path", "/path/sub1", "/link1", "/link2", "/link3"]
    ) {
      assert.ok(all.has(href), `${href} missing`);
    }
  },
);

linkTd("TD_COAP_LINK_02 filter by rt=Type1: /link1 and /link3", async (base) => {
  assert.deepEqual(await hrefs(base, "rt=Type1"), ["/link1", "/link3"]);
});

linkTd("TD_COAP_LINK_03 filter by rt=*: only resources with an rt, /link1–3 among them", async (base) => {
  const found = await links(`${base}/.well-known/core?rt=*`);
  for (const href of ["/link1", "/link2", "/link3"]) assert.ok(found.has(href), `${href} missing`);
  for (const link of found.values()) assert.match(link, /;rt=/);
  assert.ok(!found.has("/test"));
});

linkTd("TD_COAP_LINK_04 filter by rt=Type2: both resources that list it among several", async (base) => {
  assert.deepEqual(await hrefs(base, "rt=Type2"), ["/link1", "/link2"]);
});

linkTd("TD_COAP_LINK_05 filter by if=If* (a prefix): /link1 and /link2", async (base) => {
  assert.deepEqual(await hrefs(base, "if=If*"), ["/link1", "/link2"]);
});

linkTd("TD_COAP_LINK_06 filter by sz=*: only resources that state a size", async (base) => {
  const found = await links(`${base}/.well-known/core?sz=*`);
  assert.ok(found.has("/seg1/seg2/seg3"));
  for (const link of found.values()) assert.match(link, /;sz=\d+/);
});

linkTd("TD_COAP_LINK_07 filter by href=/link1: that one link", async (base) => {
  assert.deepEqual(await hrefs(base, "href=/link1"), ["/link1"]);
});

linkTd("TD_COAP_LINK_08 filter by href=/link* (a prefix): /link1–3", async (base) => {
  assert.deepEqual(await hrefs(base, "href=/link*"), ["/link1", "/link2", "/link3"]);
});

linkTd("TD_COAP_LINK_09 filter by ct=40, then GET /path: its sub-resources in link-format", async (base) => {
  const found = await links(`${base}/.well-known/core?ct=40`);
  assert.ok(found.has("/path"));
  for (const link of found.values()) assert.match(link, /;ct=(40\b|"[^"]*\b40\b)/);
  const { pdus } = await coapClient(["-m", "get", `${base}/path`]);
  const response = pdus.find((pdu) => pdu.code === "2.05");
  assert.ok(response !== undefined);
  assert.deepEqual(printedOption(response, "Content-Format"), ["application/link-format"]);
  assert.deepEqual([...(await links(`${base}/path`)).keys()], ["/path/sub1", "/path/sub2", "/path/sub3"]);
});
