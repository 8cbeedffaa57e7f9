// Codes as class.detail, their names and classes; message type names.
import assert from "node:assert/strict";
import {
  Code,
  codeClass,
  codeDetail,
  codeName,
  codeString,
  isClientError,
  isRequest,
  isResponse,
  isServerError,
  isSuccess,
  parseCode,
  parseType,
  Type,
  typeName,
} from "../src/mod.ts";

Deno.test("codes print as c.dd with their registered names", () => {
  assert.equal(codeString(Code.Content), "2.05");
  assert.equal(codeString(Code.Continue), "2.31");
  assert.equal(codeString(Code.RequestEntityTooLarge), "4.13");
  assert.equal(`${codeString(Code.Content)} ${codeName(Code.Content)}`, "2.05 Content");
  assert.equal(codeName(Code.NotFound), "Not Found");
  assert.equal(codeName((3 << 5) | 1), "Unknown");
  assert.equal(codeClass(Code.BadOption), 4);
  assert.equal(codeDetail(Code.BadOption), 2);
});

Deno.test("code classes: request, success, client and server error", () => {
  assert.ok(isRequest(Code.Get) && !isRequest(Code.Empty) && !isRequest(Code.Content));
  assert.ok(isResponse(Code.Content) && !isResponse(Code.Get));
  assert.ok(isSuccess(Code.Changed) && !isSuccess(Code.NotFound));
  assert.ok(isClientError(Code.MethodNotAllowed) && !isClientError(Code.InternalServerError));
  assert.ok(isServerError(Code.ServiceUnavailable));
});

Deno.test("parseCode takes c.dd, method names and response names", () => {
  assert.equal(parseCode("2.05"), Code.Content);
  assert.equal(parseCode("0.01"), Code.Get);
  assert.equal(parseCode("GET"), Code.Get);
  assert.equal(parseCode("post"), Code.Post);
  assert.equal(parseCode("Not Found"), Code.NotFound);
  assert.equal(parseCode("not-found"), Code.NotFound);
  assert.equal(parseCode("7.31"), 255);
  assert.throws(() => parseCode("2.32"), RangeError);
  assert.throws(() => parseCode("teapot"), /unknown code "teapot"/);
});

Deno.test("message types by name", () => {
  assert.equal(typeName(Type.NON), "NON");
  assert.equal(parseType("ack"), Type.ACK);
  assert.throws(() => parseType("CONFIRM"), /unknown message type/);
});
