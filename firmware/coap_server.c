/* The device's server side, answering as src/server/server.ts does: the
   request's options are checked first (5.05 for proxy requests, 4.02 for an
   unknown critical option, or silence for a NON: RFC 7252 §5.4.1, §5.7.2),
   then its Uri-Path (4.00 when not UTF-8, 4.04 when no resource has it), then
   the resource's callback runs; its answer is checked against Accept (4.06),
   cut to the Block2 block asked for (RFC 7959) and given Observe (RFC 7641,
   coap_observe.c). The link layer chooses the message type and Message ID. */
#include <string.h>
#include "coap_block2.h"
#include "coap_numbers.h"
#include "coap_observe.h"
#include "coap_server.h"
#include "coap_simple.h"
#include "text.h"

#define MAX_PATH 64u
/* RFC 7959 §2.2: SZX 7 is reserved and MUST lead to 4.00 in a request. */
#define RESERVED_SZX 7u

typedef struct {
  char path[MAX_PATH];
  const char *attributes;
  coap_callback callback;
  /* Observable when > 0: every con_every-th notification is CON. */
  uint32_t con_every;
} resource;

/* What a callback is answering: set around each callback call. */
typedef struct {
  /* The request from the link layer; 0 while a notification is rendered. */
  const link_event *request;
  /* The message being answered: the request, or the observer's GET. */
  const coap_message *asked;
  int resource;
  int observer;
  block2_request block2;
  int32_t accept;
  int responded;
} request_context;

static resource resources[SERVER_MAX_RESOURCES];
static uint32_t resource_count;
static request_context context;

static int find_resource(const char *path) {
  for (uint32_t i = 0; i < resource_count; i++) {
    if (strcmp(resources[i].path, path) == 0) return (int)i;
  }
  return -1;
}

void coap_server(coap_callback callback, const char *path) {
  if (resource_count == SERVER_MAX_RESOURCES || strlen(path) >= MAX_PATH) return;
  strcpy(resources[resource_count].path, path);
  resources[resource_count].callback = callback;
  resource_count++;
}

void coap_observable(const char *path, uint32_t con_every) {
  int index = find_resource(path);
  if (index >= 0) resources[index].con_every = con_every > 0 ? con_every : 1;
}

void coap_describe(const char *path, const char *attributes) {
  int index = find_resource(path);
  if (index >= 0) resources[index].attributes = attributes;
}

uint32_t coap_link_format(char *out, uint32_t capacity) {
  text t = text_over(out, capacity);
  for (uint32_t i = 0; i < resource_count; i++) {
    /* The listing does not list itself. */
    if (strncmp(resources[i].path, ".well-known/", 12) == 0) continue;
    if (t.length > 0) text_add(&t, ",");
    text_add(&t, "</");
    text_add(&t, resources[i].path);
    text_add(&t, ">");
    if (resources[i].attributes) {
      text_add(&t, ";");
      text_add(&t, resources[i].attributes);
    }
    if (resources[i].con_every > 0) text_add(&t, ";obs");
  }
  return t.length;
}

/* Whether the Uri-Path options are exactly the '/'-separated segments of `path`. */
static int path_matches(const char *path, const coap_message *request) {
  const char *at = path;
  int segments = 0;
  for (uint32_t i = 0; i < request->option_count; i++) {
    const coap_option *option = &request->options[i];
    if (option->number != COAP_OPTION_URI_PATH) continue;
    if (segments++ > 0 && *at++ != '/') return 0;
    if (memchr(option->value, '/', option->length) || memchr(option->value, 0, option->length)) return 0;
    if (strncmp(at, (const char *)option->value, option->length) != 0) return 0;
    at += option->length;
    if (*at != 0 && *at != '/') return 0;
  }
  return segments > 0 && *at == 0;
}

static int resource_for(const coap_message *request) {
  for (uint32_t i = 0; i < resource_count; i++) {
    if (path_matches(resources[i].path, request)) return (int)i;
  }
  return -1;
}

static int is_success(uint8_t code) { return (code >> 5) == 2; }

/* RFC 7252 §11.3, as amplification.ts decides it for Deno: an error's diagnostic (optional, §5.5.2) is cut
   so that the answer is at most 3 times its request, and never inside a UTF-8 sequence. */
#define ERROR_AMPLIFICATION 3u
static void fit_diagnostic(coap_message *response, uint32_t request_size) {
  static uint8_t scratch[COAP_MAX_DATAGRAM];
  uint32_t budget = ERROR_AMPLIFICATION * request_size;
  response->type = COAP_TYPE_ACK;
  int32_t size = core_encode(response, scratch, sizeof scratch);
  if (is_success(response->code) || size < 0 || (uint32_t)size <= budget) return;
  uint32_t over = (uint32_t)size - budget;
  uint32_t length = response->payload_length > over ? response->payload_length - over : 0;
  while (length > 0 && (response->payload[length] & 0xC0) == 0x80) length--;
  response->payload_length = length;
}

int coap_send_response(udp_peer peer, const coap_packet *packet, uint8_t code, int32_t content_format,
                       const char *payload, uint32_t length) {
  /* The context names what is answered; the arguments are coap-simple's shape. */
  (void)peer;
  (void)packet;
  if (context.asked == 0 || context.responded) return 0;
  context.responded = 1;
  /* RFC 7252 §5.10.4: a representation in another format than the one asked for is not acceptable. */
  if (context.accept >= 0 && is_success(code) && content_format >= 0 && content_format != context.accept) {
    code = COAP_CODE_NOT_ACCEPTABLE;
    content_format = COAP_NO_FORMAT;
    length = 0;
  }
  coap_message response = {0};
  response.code = code;
  response.payload = (const uint8_t *)payload;
  response.payload_length = length;
  uint8_t format[2], observe[3], max_age[1];
  if (content_format >= 0) {
    coap_add_option(&response, COAP_OPTION_CONTENT_FORMAT, format,
                    coap_uint_bytes((uint32_t)content_format, format));
  }
  block2_values block_values;
  block2_slice(&response, &context.block2, &block_values);
  if (context.observer >= 0 && is_success(response.code)) {
    uint32_t sequence = observe_sequence((uint8_t)context.resource);
    coap_add_option(&response, COAP_OPTION_OBSERVE, observe, coap_uint_bytes(sequence, observe));
    coap_add_option(&response, COAP_OPTION_MAX_AGE, max_age,
                    coap_uint_bytes(OBSERVE_DEFAULT_MAX_AGE, max_age));
  }
  if (context.request == 0) {
    observe_notify(context.observer, resources[context.resource].con_every, &response);
    return 1;
  }
  response.token_length = context.asked->token_length;
  memcpy(response.token, context.asked->token, response.token_length);
  fit_diagnostic(&response, context.request->size);
  int sent = link_respond(context.request, &response);
  /* RFC 7641 §3.2: an error response ends the observation (or never starts it). */
  if (context.observer >= 0 && !is_success(response.code)) {
    observe_forget(context.observer, "observation ended by error response ");
  }
  return sent;
}

static void answer_error(uint8_t code, const char *diagnostic) {
  udp_peer to = context.request ? context.request->from : (udp_peer){0};
  coap_send_response(to, context.asked, code, COAP_NO_FORMAT, diagnostic, strlen(diagnostic));
}

static void begin(const link_event *request, const coap_message *asked) {
  memset(&context, 0, sizeof context);
  context.request = request;
  context.asked = asked;
  context.resource = -1;
  context.observer = -1;
  context.accept = -1;
}

/* Critical options this server acts on: server.ts's UNDERSTOOD but Block1, which the device does not
   reassemble (so a Block1 request gets 4.02, the RFC 7252 §5.4.1 answer for an option not understood). */
static int understood(uint16_t number) {
  return number == COAP_OPTION_URI_HOST || number == COAP_OPTION_URI_PORT || number == COAP_OPTION_URI_PATH ||
         number == COAP_OPTION_URI_QUERY || number == COAP_OPTION_ACCEPT || number == COAP_OPTION_BLOCK2;
}

/* Answers (or for a NON, drops) a request whose options this server will not act on; 1 when it did. */
static int refuse_options(const coap_message *request) {
  for (uint32_t i = 0; i < request->option_count; i++) {
    const coap_option *option = &request->options[i];
    if (option->number == COAP_OPTION_PROXY_URI || option->number == COAP_OPTION_PROXY_SCHEME) {
      /* RFC 7252 §5.7.2: not a proxy. */
      answer_error(COAP_CODE_PROXYING_NOT_SUPPORTED, "");
      return 1;
    }
    if ((option->number & 1) && !understood(option->number)) {
      /* RFC 7252 §5.4.1: a NON with an unrecognized critical option is rejected, not answered. */
      if (request->type != COAP_TYPE_CON) return 1;
      char diagnostic[40];
      text t = text_over(diagnostic, sizeof diagnostic);
      text_add(&t, "option ");
      text_add_u32(&t, option->number);
      text_add(&t, " not supported");
      answer_error(COAP_CODE_BAD_OPTION, diagnostic);
      return 1;
    }
  }
  /* After every option passed, as option_checks.ts does: the same answer when several are wrong. */
  const coap_option *block2 = coap_find_option(request, COAP_OPTION_BLOCK2);
  if (block2 != 0 && block2->length > 0 && (block2->value[block2->length - 1] & 7) == RESERVED_SZX) {
    answer_error(COAP_CODE_BAD_REQUEST, "Block2 SZX 7 is reserved");
    return 1;
  }
  return 0;
}

static int uri_is_utf8(const coap_message *request) {
  for (uint32_t i = 0; i < request->option_count; i++) {
    const coap_option *option = &request->options[i];
    if ((option->number == COAP_OPTION_URI_PATH || option->number == COAP_OPTION_URI_QUERY) &&
        !text_is_utf8(option->value, option->length)) {
      return 0;
    }
  }
  return 1;
}

/* RFC 7641 §3.1, §3.6: Observe 0 in a GET registers its sender, Observe 1 deregisters it. */
static void observe_option(const link_event *request, int index) {
  const coap_option *observe = coap_find_option(&request->message, COAP_OPTION_OBSERVE);
  if (observe == 0 || request->message.code != COAP_CODE_GET || resources[index].con_every == 0) return;
  if (coap_uint_value(observe) == 1) {
    int existing = observe_find(request, (uint8_t)index);
    if (existing >= 0) observe_forget(existing, "observer deregistered ");
    return;
  }
  context.observer = observe_register(request, (uint8_t)index);
}

void server_request(const link_event *request) {
  const coap_message *message = &request->message;
  begin(request, message);
  if (refuse_options(message)) return;
  if (!uri_is_utf8(message)) {
    answer_error(COAP_CODE_BAD_REQUEST, "Uri-Path or Uri-Query is not UTF-8");
    return;
  }
  const coap_option *accept = coap_find_option(message, COAP_OPTION_ACCEPT);
  if (accept) context.accept = (int32_t)coap_uint_value(accept);
  const coap_option *block2 = coap_find_option(message, COAP_OPTION_BLOCK2);
  if (block2) {
    uint32_t value = coap_uint_value(block2);
    context.block2 = (block2_request){1, value >> 4, value & 7, 0};
  }
  context.block2.size2_asked = coap_find_option(message, COAP_OPTION_SIZE2) != 0;
  int index = resource_for(message);
  if (index < 0) {
    answer_error(COAP_CODE_NOT_FOUND, "");
    return;
  }
  context.resource = index;
  observe_option(request, index);
  resources[index].callback(message, request->from);
  if (!context.responded) answer_error(COAP_CODE_INTERNAL_SERVER_ERROR, "");
}

void server_busy(const link_event *request) {
  /* RFC 7252 §5.9.3.4: Max-Age says when to try again. */
  coap_message response = {0};
  uint8_t max_age[4];
  static const char diagnostic[] = "too many requests in progress";
  response.code = COAP_CODE_SERVICE_UNAVAILABLE;
  response.token_length = request->message.token_length;
  memcpy(response.token, request->message.token, response.token_length);
  coap_add_option(&response, COAP_OPTION_MAX_AGE, max_age, coap_uint_bytes(request->retry_after, max_age));
  response.payload = (const uint8_t *)diagnostic;
  response.payload_length = sizeof diagnostic - 1;
  fit_diagnostic(&response, request->size);
  link_respond(request, &response);
}

void coap_changed(const char *path) {
  int index = find_resource(path);
  if (index < 0 || resources[index].con_every == 0) return;
  observe_advance((uint8_t)index);
  for (int o = observe_next((uint8_t)index, -1); o >= 0; o = observe_next((uint8_t)index, o)) {
    /* The callback sees a GET with the observer's token, as if the registration were repeated. */
    coap_message request;
    observe_request(o, &request);
    begin(0, &request);
    context.resource = index;
    context.observer = o;
    resources[index].callback(&request, observe_address(o));
    if (!context.responded) answer_error(COAP_CODE_INTERNAL_SERVER_ERROR, "");
  }
}
