/* The device's server side: resources by Uri-Path, dispatch with the RFC's
   errors, responses (piggybacked, NON, Block2 slices) and Observe (RFC 7641):
   registrations, notifications every Nth CON, deregistration. */
#include <string.h>
#include "coap_link.h"
#include "random.h"
#include "text.h"

#define MAX_RESOURCES 8u
#define MAX_OBSERVERS 8u
#define MAX_PATH 64u
#define RECENT_NON 4u
#define MAX_BLOCK 1024u
/* RFC 7641 §4.4: sequence numbers are 24 bits. */
#define OBSERVE_MASK 0xFFFFFFu

typedef struct {
  char path[MAX_PATH];
  const char *attributes;
  coap_callback callback;
  uint32_t con_every;
} resource;

typedef struct {
  int used;
  uint8_t resource;
  uint8_t peer;
  uint8_t token_length;
  uint8_t token[8];
  uint32_t sequence;
  uint32_t sent;
  /* The unacknowledged CON notification, if any (RFC 7641 §4.5.2: a newer one takes over its schedule). */
  int con_pending;
  uint16_t con_mid;
  uint16_t recent_non[RECENT_NON];
  uint32_t recent_next;
} observer;

/* What a callback is answering: set around each callback call. */
typedef struct {
  int observer;
  int notification;
  int has_block2;
  uint32_t block2_num;
  uint32_t block2_size;
  int32_t accept;
  int responded;
} request_context;

static resource resources[MAX_RESOURCES];
static uint32_t resource_count;
static observer observers[MAX_OBSERVERS];
static request_context context;
static uint8_t datagram_out[COAP_MAX_DATAGRAM];

/* Uri-Path options joined with '/'; 0 when too long. */
static int request_path(const coap_packet *packet, char *out) {
  uint32_t length = 0;
  out[0] = 0;
  for (uint32_t i = 0; i < packet->option_count; i++) {
    const coap_option *option = &packet->options[i];
    if (option->number != OPTION_URI_PATH) continue;
    if (length + option->length + 2 > MAX_PATH) return 0;
    if (length > 0) out[length++] = '/';
    memcpy(out + length, option->value, option->length);
    length += option->length;
    out[length] = 0;
  }
  return 1;
}

static int find_resource(const char *path) {
  for (uint32_t i = 0; i < resource_count; i++) {
    if (strcmp(resources[i].path, path) == 0) return (int)i;
  }
  return -1;
}

void coap_server(coap_callback callback, const char *path) {
  if (resource_count == MAX_RESOURCES || strlen(path) >= MAX_PATH) return;
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

uint32_t coap_observer_count(void) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) count += observers[i].used != 0;
  return count;
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

static void forget_observer(int index, const char *why) {
  observer *o = &observers[index];
  if (o->con_pending) link_cancel(o->peer, o->con_mid);
  o->used = 0;
  link_log(why, (uint32_t)index);
}

static int find_observer(uint8_t peer, const uint8_t *token, uint8_t token_length) {
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    observer *o = &observers[i];
    if (o->used && o->peer == peer && o->token_length == token_length &&
        memcmp(o->token, token, token_length) == 0) {
      return (int)i;
    }
  }
  return -1;
}

/* RFC 7641 §3.1: a registration from the same peer with the same token replaces the old one. */
static int register_observer(uint8_t peer, int resource_index, const coap_packet *packet) {
  int index = find_observer(peer, packet->token, packet->token_length);
  for (uint32_t i = 0; index < 0 && i < MAX_OBSERVERS; i++) {
    if (!observers[i].used) index = (int)i;
  }
  if (index < 0) return -1;
  observer *o = &observers[index];
  memset(o, 0, sizeof *o);
  o->used = 1;
  o->resource = (uint8_t)resource_index;
  o->peer = peer;
  o->token_length = packet->token_length;
  memcpy(o->token, packet->token, packet->token_length);
  o->sequence = random_next() & 0xFFFF;
  return index;
}

static int is_success(uint8_t code) { return (code >> 5) == 2; }

uint16_t coap_send_response(udp_peer peer, const coap_packet *packet, uint8_t code, int32_t content_format,
                            const char *payload, uint32_t length) {
  uint8_t peer_index = link_peer(peer);
  context.responded = 1;
  if (peer_index == NO_PEER) return 0;
  if (context.accept >= 0 && content_format >= 0 && context.accept != content_format && is_success(code)) {
    code = COAP_NOT_ACCEPTABLE;
    content_format = COAP_NO_FORMAT;
    length = 0;
  }
  coap_message reply = {0};
  reply.code = code;
  reply.token_length = packet->token_length;
  memcpy(reply.token, packet->token, packet->token_length);
  observer *o = context.observer >= 0 ? &observers[context.observer] : 0;
  if (context.notification) {
    o->sent++;
    reply.type = (o->con_pending || o->sent % resources[o->resource].con_every == 0) ? COAP_CON : COAP_NON;
    reply.message_id = link_new_mid();
  } else if (packet->type == COAP_CON) {
    reply.type = COAP_ACK;
    reply.message_id = packet->message_id;
  } else {
    reply.type = COAP_NON;
    reply.message_id = link_new_mid();
  }
  uint8_t observe[3], format[2], block[3];
  if (o != 0 && is_success(code)) {
    o->sequence = (o->sequence + 1) & OBSERVE_MASK;
    reply.options[reply.option_count++] = (coap_option){OPTION_OBSERVE, (uint16_t)coap_uint_bytes(o->sequence, observe), observe};
  }
  if (content_format >= 0) {
    reply.options[reply.option_count++] =
        (coap_option){OPTION_CONTENT_FORMAT, (uint16_t)coap_uint_bytes((uint32_t)content_format, format), format};
  }
  /* Block2 (RFC 7959) when asked for, or when the answer is larger than a block. */
  uint32_t size = context.has_block2 ? context.block2_size : MAX_BLOCK;
  if (context.has_block2 || length > size) {
    uint32_t num = context.has_block2 ? context.block2_num : 0;
    uint32_t start = num * size;
    if (start >= length && length > 0) {
      reply.code = COAP_BAD_REQUEST;
      reply.option_count = 0;
      payload = "Block2 beyond the end";
      length = strlen(payload);
    } else {
      uint32_t szx = 0;
      while ((16u << szx) < size) szx++;
      int more = start + size < length;
      reply.options[reply.option_count++] =
          (coap_option){OPTION_BLOCK2, (uint16_t)coap_uint_bytes((num << 4) | ((uint32_t)more << 3) | szx, block), block};
      payload += start;
      length = more ? size : length - start;
    }
  }
  reply.payload = (const uint8_t *)payload;
  reply.payload_length = length;
  int32_t encoded = core_encode(&reply, datagram_out, sizeof datagram_out);
  if (encoded < 0) {
    link_log("encode failed, error ", (uint32_t)-encoded);
    return 0;
  }
  link_send(peer_index, datagram_out, (uint32_t)encoded);
  if (context.notification && reply.type == COAP_CON) {
    int taken_over = o->con_pending &&
                     link_retrack(peer_index, o->con_mid, reply.message_id, datagram_out, (uint32_t)encoded);
    if (!taken_over && !link_track(peer_index, reply.message_id, OUT_NOTIFICATION, (uint8_t)context.observer,
                                   datagram_out, (uint32_t)encoded)) {
      forget_observer(context.observer, "observer dropped (retransmission table full) ");
      return reply.message_id;
    }
    o->con_pending = 1;
    o->con_mid = reply.message_id;
  } else if (context.notification) {
    o->recent_non[o->recent_next++ % RECENT_NON] = reply.message_id;
  } else {
    link_cache_reply(peer_index, packet->message_id, datagram_out, (uint32_t)encoded);
  }
  /* RFC 7641 §3.2: an error response ends the observation. */
  if (o != 0 && !is_success(code)) forget_observer(context.observer, "observation ended by error response ");
  return reply.message_id;
}

/* Critical options (odd numbers) this device understands in a request; any other one gets 4.02. */
static int understood(uint16_t number) {
  return (number & 1) == 0 || number == OPTION_URI_HOST || number == OPTION_URI_PORT ||
         number == OPTION_URI_PATH || number == OPTION_URI_QUERY || number == OPTION_ACCEPT ||
         number == OPTION_BLOCK2;
}

static void answer_error(udp_peer peer, const coap_packet *packet, uint8_t code, const char *why) {
  coap_send_response(peer, packet, code, COAP_TEXT_PLAIN, why, strlen(why));
}

void server_request(udp_peer peer, uint8_t peer_index, const coap_packet *packet) {
  memset(&context, 0, sizeof context);
  context.observer = -1;
  context.accept = -1;
  for (uint32_t i = 0; i < packet->option_count; i++) {
    if (!understood(packet->options[i].number)) {
      answer_error(peer, packet, COAP_BAD_OPTION, "unsupported critical option");
      return;
    }
  }
  const coap_option *accept = coap_find_option(packet, OPTION_ACCEPT);
  if (accept) context.accept = (int32_t)coap_uint_value(accept);
  const coap_option *block2 = coap_find_option(packet, OPTION_BLOCK2);
  if (block2) {
    uint32_t value = coap_uint_value(block2);
    if ((value & 7) == 7) {
      answer_error(peer, packet, COAP_BAD_OPTION, "BERT is not supported");
      return;
    }
    context.has_block2 = 1;
    context.block2_num = value >> 4;
    context.block2_size = 16u << (value & 7);
  }
  char path[MAX_PATH];
  if (!request_path(packet, path)) {
    answer_error(peer, packet, COAP_NOT_FOUND, "path too long");
    return;
  }
  int index = find_resource(path);
  if (index < 0) {
    answer_error(peer, packet, COAP_NOT_FOUND, "no such resource");
    return;
  }
  const coap_option *observe = coap_find_option(packet, OPTION_OBSERVE);
  if (observe && packet->code == COAP_GET && resources[index].con_every > 0) {
    uint32_t value = coap_uint_value(observe);
    int existing = find_observer(peer_index, packet->token, packet->token_length);
    if (value == 0 && block2 == 0) {
      context.observer = register_observer(peer_index, index, packet);
    } else if (value == 1 && existing >= 0) {
      forget_observer(existing, "observer deregistered ");
    }
  }
  resources[index].callback(packet, peer);
  if (!context.responded) answer_error(peer, packet, COAP_INTERNAL_SERVER_ERROR, "no response from handler");
}

void coap_changed(const char *path) {
  int index = find_resource(path);
  if (index < 0) return;
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    observer *o = &observers[i];
    if (!o->used || o->resource != index) continue;
    /* The callback sees a GET with the observer's token, as if the registration were repeated. */
    coap_packet request = {0};
    request.type = COAP_CON;
    request.code = COAP_GET;
    request.token_length = o->token_length;
    memcpy(request.token, o->token, o->token_length);
    memset(&context, 0, sizeof context);
    context.observer = (int)i;
    context.notification = 1;
    context.accept = -1;
    resources[index].callback(&request, link_address(o->peer));
  }
}

int server_uses_peer(uint8_t peer) {
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    if (observers[i].used && observers[i].peer == peer) return 1;
  }
  return 0;
}

void server_notification_settled(uint8_t index, int reset) {
  observers[index].con_pending = 0;
  if (reset) forget_observer(index, "observer reset a notification ");
}

void server_notification_lost(uint8_t index) {
  observers[index].con_pending = 0;
  forget_observer(index, "observer gave no ACK, removed ");
}

/* RFC 7641 §3.6: an RST to one of the last NON notifications also ends the observation. */
void server_reset(uint8_t peer, uint16_t mid) {
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    observer *o = &observers[i];
    for (uint32_t j = 0; o->used && o->peer == peer && j < RECENT_NON; j++) {
      if (o->recent_non[j] == mid) {
        forget_observer((int)i, "observer reset a notification ");
        break;
      }
    }
  }
}
