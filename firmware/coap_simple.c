/* CoAP endpoint of the device: message layer (MIDs, dedup, ACK/RST,
   retransmission through the core), request dispatch by Uri-Path, Observe,
   Block2 for large answers, and a one-at-a-time client. */
#include <string.h>
#include "clock.h"
#include "coap_simple.h"
#include "random.h"
#include "slipmux.h"
#include "text.h"
#include "uart.h"

#define OPTION_URI_HOST 3
#define OPTION_OBSERVE 6
#define OPTION_URI_PORT 7
#define OPTION_URI_PATH 11
#define OPTION_CONTENT_FORMAT 12
#define OPTION_URI_QUERY 15
#define OPTION_ACCEPT 17
#define OPTION_BLOCK2 23

#define MAX_PEERS 16u
#define NO_PEER 0xFFu
#define MAX_RESOURCES 8u
#define MAX_OBSERVERS 8u
#define MAX_PATH 64u
#define RETRANSMIT_SLOTS 32u
#define DEDUP_SLOTS 64u
#define STORED_MESSAGE 320u
#define REPLY_CACHE 8u
#define REQUEST_QUEUE 8u
#define RECENT_NON 4u
#define MAX_BLOCK 1024u
/* RFC 7641 §4.4: sequence numbers are 24 bits. */
#define OBSERVE_MASK 0xFFFFFFu

typedef struct {
  udp_peer address;
  uint32_t last_used;
  /* Bumped when the entry goes to a new peer, so the core's dedup and retransmission keys of the old one
     (which live up to EXCHANGE_LIFETIME) never match the newcomer. */
  uint32_t generation;
} peer_entry;

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

typedef enum { OUT_FREE, OUT_NOTIFICATION, OUT_REQUEST } outgoing_kind;

/* A CON in flight, kept by the core's slot number for retransmission. */
typedef struct {
  outgoing_kind kind;
  uint8_t peer;
  uint8_t observer;
  uint16_t mid;
  uint16_t length;
  uint8_t bytes[STORED_MESSAGE];
} outgoing;

typedef struct {
  uint8_t peer;
  uint16_t mid;
  uint16_t length;
  uint8_t bytes[STORED_MESSAGE];
} cached_reply;

typedef struct {
  uint8_t peer;
  uint8_t token_length;
  uint8_t token[8];
  uint16_t length;
  uint8_t bytes[STORED_MESSAGE];
} queued_request;

/* What a callback is answering: set around each callback call. */
typedef struct {
  uint8_t peer;
  int observer;
  int notification;
  int has_block2;
  uint32_t block2_num;
  uint32_t block2_size;
  int32_t accept;
  int responded;
} request_context;

static peer_entry peers[MAX_PEERS];
static resource resources[MAX_RESOURCES];
static uint32_t resource_count;
static observer observers[MAX_OBSERVERS];
static outgoing in_flight[RETRANSMIT_SLOTS];
static cached_reply replies[REPLY_CACHE];
static uint32_t reply_next;
static queued_request queue[REQUEST_QUEUE];
static uint32_t queue_head, queue_size;
/* The queue head's Message ID while it is on the wire (NSTART = 1). */
static int request_on_wire;
static int request_awaiting_separate;
static uint16_t request_mid;
static coap_callback response_callback;
static request_context context;
static uint16_t next_mid;
static uint8_t packet_out[SLIPMUX_MAX_FRAME];
static uint8_t datagram_out[COAP_MAX_DATAGRAM];

static void log_line(const char *what, uint32_t value) {
  char buffer[96];
  text t = text_over(buffer, sizeof buffer);
  text_add(&t, what);
  text_add_u32(&t, value);
  slipmux_send_diagnostic(buffer);
}

static void send_datagram(uint8_t peer, const uint8_t *bytes, uint32_t length) {
  uint32_t packet_length = ipv4_udp_build(peers[peer].address, bytes, length, packet_out);
  slipmux_send_packet(packet_out, packet_length);
}

/* Whether an observation, a CON in flight or a queued request still names this peer. */
static int peer_in_use(uint32_t index) {
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    if (observers[i].used && observers[i].peer == index) return 1;
  }
  for (uint32_t i = 0; i < RETRANSMIT_SLOTS; i++) {
    if (in_flight[i].kind != OUT_FREE && in_flight[i].peer == index) return 1;
  }
  for (uint32_t i = 0; i < queue_size; i++) {
    if (queue[(queue_head + i) % REQUEST_QUEUE].peer == index) return 1;
  }
  return 0;
}

/* Peers are numbered 0..MAX_PEERS-1 here and known to the core as number + 1. A new peer takes the least
   recently used entry nothing refers to any more; NO_PEER when every entry is still in use. */
static uint8_t peer_id(udp_peer address) {
  int oldest = -1;
  for (uint32_t i = 0; i < MAX_PEERS; i++) {
    if (peers[i].address.port == address.port && memcmp(peers[i].address.ip, address.ip, 4) == 0) {
      peers[i].last_used = clock_ms();
      return (uint8_t)i;
    }
  }
  for (uint32_t i = 0; i < MAX_PEERS; i++) {
    if (peers[i].address.port == 0) {
      oldest = (int)i;
      break;
    }
    if (peer_in_use(i)) continue;
    if (oldest < 0 || (int32_t)(peers[i].last_used - peers[oldest].last_used) < 0) oldest = (int)i;
  }
  if (oldest < 0) return NO_PEER;
  if (peers[oldest].address.port != 0) peers[oldest].generation++;
  for (uint32_t i = 0; i < REPLY_CACHE; i++) {
    if (replies[i].peer == (uint8_t)oldest) replies[i].length = 0;
  }
  peers[oldest].address = address;
  peers[oldest].last_used = clock_ms();
  return (uint8_t)oldest;
}

/* The number the core knows a peer entry by: never 0 (the boot self-test's), and new for each occupant. */
static uint32_t core_peer(uint8_t index) { return (peers[index].generation << 8) + index + 1u; }

static uint32_t uint_value(const coap_option *option) {
  uint32_t value = 0;
  for (uint32_t i = 0; i < option->length && i < 4; i++) value = (value << 8) | option->value[i];
  return value;
}

static uint32_t uint_bytes(uint32_t value, uint8_t *out) {
  uint32_t length = value > 0xFFFFFF ? 4 : value > 0xFFFF ? 3 : value > 0xFF ? 2 : value > 0 ? 1 : 0;
  for (uint32_t i = 0; i < length; i++) out[i] = (uint8_t)(value >> (8 * (length - 1 - i)));
  return length;
}

const coap_option *coap_find_option(const coap_packet *packet, uint16_t number) {
  for (uint32_t i = 0; i < packet->option_count; i++) {
    if (packet->options[i].number == number) return &packet->options[i];
  }
  return 0;
}

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

void coap_response(coap_callback callback) { response_callback = callback; }

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

static void cache_reply(uint8_t peer, uint16_t mid, const uint8_t *bytes, uint32_t length) {
  if (length > STORED_MESSAGE) return;
  cached_reply *slot = &replies[reply_next++ % REPLY_CACHE];
  slot->peer = peer;
  slot->mid = mid;
  slot->length = (uint16_t)length;
  memcpy(slot->bytes, bytes, length);
}

static const cached_reply *find_reply(uint8_t peer, uint16_t mid) {
  for (uint32_t i = 0; i < REPLY_CACHE; i++) {
    if (replies[i].length > 0 && replies[i].peer == peer && replies[i].mid == mid) return &replies[i];
  }
  return 0;
}

static void send_empty(uint8_t peer, uint8_t type, uint16_t mid) {
  uint8_t bytes[4] = {(uint8_t)(0x40 | (type << 4)), 0, (uint8_t)(mid >> 8), (uint8_t)mid};
  send_datagram(peer, bytes, sizeof bytes);
}

/* Keeps a CON for retransmission under the core's slot; 0 when the core's table is full. */
static int track(uint8_t peer, uint16_t mid, outgoing_kind kind, uint8_t observer_index, const uint8_t *bytes,
                 uint32_t length) {
  if (length > STORED_MESSAGE) return 0;
  int32_t slot = core_schedule(core_peer(peer), mid, clock_ms());
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS) return 0;
  outgoing *entry = &in_flight[slot];
  entry->kind = kind;
  entry->peer = peer;
  entry->observer = observer_index;
  entry->mid = mid;
  entry->length = (uint16_t)length;
  memcpy(entry->bytes, bytes, length);
  return 1;
}

static void forget_observer(int index, const char *why) {
  observer *o = &observers[index];
  if (o->con_pending) {
    int32_t slot = core_acknowledge(core_peer(o->peer), o->con_mid);
    if (slot >= 0) in_flight[slot].kind = OUT_FREE;
  }
  o->used = 0;
  log_line(why, (uint32_t)index);
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
  uint8_t peer_index = peer_id(peer);
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
    reply.message_id = next_mid++;
  } else if (packet->type == COAP_CON) {
    reply.type = COAP_ACK;
    reply.message_id = packet->message_id;
  } else {
    reply.type = COAP_NON;
    reply.message_id = next_mid++;
  }
  uint8_t observe[3], format[2], block[3];
  if (o != 0 && is_success(code)) {
    o->sequence = (o->sequence + 1) & OBSERVE_MASK;
    reply.options[reply.option_count++] = (coap_option){OPTION_OBSERVE, (uint16_t)uint_bytes(o->sequence, observe), observe};
  }
  if (content_format >= 0) {
    reply.options[reply.option_count++] =
        (coap_option){OPTION_CONTENT_FORMAT, (uint16_t)uint_bytes((uint32_t)content_format, format), format};
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
          (coap_option){OPTION_BLOCK2, (uint16_t)uint_bytes((num << 4) | ((uint32_t)more << 3) | szx, block), block};
      payload += start;
      length = more ? size : length - start;
    }
  }
  reply.payload = (const uint8_t *)payload;
  reply.payload_length = length;
  int32_t encoded = core_encode(&reply, datagram_out, sizeof datagram_out);
  if (encoded < 0) {
    log_line("encode failed, error ", (uint32_t)-encoded);
    return 0;
  }
  send_datagram(peer_index, datagram_out, (uint32_t)encoded);
  if (context.notification && reply.type == COAP_CON) {
    int32_t slot = o->con_pending ? core_rekey(core_peer(peer_index), o->con_mid, reply.message_id) : -1;
    if (slot >= 0) {
      in_flight[slot].mid = reply.message_id;
      in_flight[slot].length = (uint16_t)encoded;
      memcpy(in_flight[slot].bytes, datagram_out, (uint32_t)encoded);
    } else if (!track(peer_index, reply.message_id, OUT_NOTIFICATION, (uint8_t)context.observer, datagram_out,
                      (uint32_t)encoded)) {
      forget_observer(context.observer, "observer dropped (retransmission table full) ");
      return reply.message_id;
    }
    o->con_pending = 1;
    o->con_mid = reply.message_id;
  } else if (context.notification) {
    o->recent_non[o->recent_next++ % RECENT_NON] = reply.message_id;
  } else {
    cache_reply(peer_index, packet->message_id, datagram_out, (uint32_t)encoded);
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

static void handle_request(udp_peer peer, uint8_t peer_index, const coap_packet *packet) {
  memset(&context, 0, sizeof context);
  context.peer = peer_index;
  context.observer = -1;
  context.accept = -1;
  for (uint32_t i = 0; i < packet->option_count; i++) {
    if (!understood(packet->options[i].number)) {
      answer_error(peer, packet, COAP_BAD_OPTION, "unsupported critical option");
      return;
    }
  }
  const coap_option *accept = coap_find_option(packet, OPTION_ACCEPT);
  if (accept) context.accept = (int32_t)uint_value(accept);
  const coap_option *block2 = coap_find_option(packet, OPTION_BLOCK2);
  if (block2) {
    uint32_t value = uint_value(block2);
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
    uint32_t value = uint_value(observe);
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
    context.peer = o->peer;
    context.observer = (int)i;
    context.notification = 1;
    context.accept = -1;
    resources[index].callback(&request, peers[o->peer].address);
  }
}

static void send_next_request(void) {
  if (request_on_wire || queue_size == 0) return;
  queued_request *head = &queue[queue_head];
  request_mid = next_mid++;
  head->bytes[2] = (uint8_t)(request_mid >> 8);
  head->bytes[3] = (uint8_t)request_mid;
  if (!track(head->peer, request_mid, OUT_REQUEST, 0, head->bytes, head->length)) return;
  send_datagram(head->peer, head->bytes, head->length);
  request_on_wire = 1;
  request_awaiting_separate = 0;
}

static void finish_request(void) {
  request_on_wire = 0;
  request_awaiting_separate = 0;
  queue_head = (queue_head + 1) % REQUEST_QUEUE;
  queue_size--;
  send_next_request();
}

int coap_put(udp_peer peer, const char *path, const char *payload, int32_t content_format) {
  uint8_t peer_index = peer_id(peer);
  if (queue_size == REQUEST_QUEUE || peer_index == NO_PEER) return 0;
  queued_request *request = &queue[(queue_head + queue_size) % REQUEST_QUEUE];
  coap_message message = {0};
  message.type = COAP_CON;
  message.code = COAP_PUT;
  message.token_length = 4;
  uint32_t token = random_next();
  memcpy(message.token, &token, 4);
  /* Each '/'-separated segment is one Uri-Path option; they point into `path` until encoded. */
  const char *segment = path;
  while (*segment != 0 && message.option_count < COAP_MAX_OPTIONS - 1) {
    const char *end = strchr(segment, '/');
    uint32_t length = end ? (uint32_t)(end - segment) : strlen(segment);
    message.options[message.option_count++] = (coap_option){OPTION_URI_PATH, (uint16_t)length, (const uint8_t *)segment};
    segment += length + (end ? 1 : 0);
  }
  uint8_t format[2];
  if (content_format >= 0) {
    message.options[message.option_count++] =
        (coap_option){OPTION_CONTENT_FORMAT, (uint16_t)uint_bytes((uint32_t)content_format, format), format};
  }
  message.payload = (const uint8_t *)payload;
  message.payload_length = strlen(payload);
  int32_t length = core_encode(&message, request->bytes, STORED_MESSAGE);
  if (length < 0) return 0;
  request->length = (uint16_t)length;
  request->peer = peer_index;
  request->token_length = 4;
  memcpy(request->token, message.token, 4);
  queue_size++;
  send_next_request();
  return 1;
}

/* An ACK or RST for one of our CONs. */
static void settle(uint8_t peer_index, const coap_packet *packet, udp_peer peer) {
  int32_t slot = core_acknowledge(core_peer(peer_index), packet->message_id);
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS) {
    /* An RST may also answer a NON notification (RFC 7641 §3.6). */
    for (uint32_t i = 0; packet->type == COAP_RESET && i < MAX_OBSERVERS; i++) {
      observer *o = &observers[i];
      for (uint32_t j = 0; o->used && o->peer == peer_index && j < RECENT_NON; j++) {
        if (o->recent_non[j] == packet->message_id) {
          forget_observer((int)i, "observer reset a notification ");
          break;
        }
      }
    }
    return;
  }
  outgoing *entry = &in_flight[slot];
  outgoing_kind kind = entry->kind;
  entry->kind = OUT_FREE;
  if (kind == OUT_NOTIFICATION) {
    observers[entry->observer].con_pending = 0;
    if (packet->type == COAP_RESET) forget_observer(entry->observer, "observer reset a notification ");
  } else if (kind == OUT_REQUEST && entry->mid == request_mid && request_on_wire) {
    if (packet->type == COAP_RESET) {
      log_line("request reset, mid ", packet->message_id);
      finish_request();
    } else if (packet->code == 0) {
      request_awaiting_separate = 1;
    } else {
      if (response_callback) response_callback(packet, peer);
      finish_request();
    }
  }
}

/* A CON or NON response: a separate response to our request, or unknown (rejected with RST). */
static void handle_response(uint8_t peer_index, const coap_packet *packet, udp_peer peer) {
  queued_request *head = &queue[queue_head];
  int ours = request_on_wire && head->peer == peer_index && head->token_length == packet->token_length &&
             memcmp(head->token, packet->token, packet->token_length) == 0;
  if (!ours) {
    send_empty(peer_index, COAP_RESET, packet->message_id);
    return;
  }
  if (packet->type == COAP_CON) send_empty(peer_index, COAP_ACK, packet->message_id);
  if (!request_awaiting_separate) {
    int32_t slot = core_acknowledge(core_peer(peer_index), request_mid);
    if (slot >= 0 && slot < (int32_t)RETRANSMIT_SLOTS) in_flight[slot].kind = OUT_FREE;
  }
  if (response_callback) response_callback(packet, peer);
  finish_request();
}

static void handle_datagram(udp_peer peer, const uint8_t *bytes, uint32_t length) {
  uint8_t peer_index = peer_id(peer);
  if (peer_index == NO_PEER) {
    log_line("datagram dropped: every peer entry is in use, port ", peer.port);
    return;
  }
  coap_packet packet;
  int32_t error = core_decode(bytes, length, &packet);
  if (error != 0) {
    /* RFC 7252 §4.2/§4.3: a malformed CON is rejected with RST; anything else malformed is ignored. */
    if (length >= 4 && (bytes[0] >> 6) == 1 && ((bytes[0] >> 4) & 3) == COAP_CON) {
      send_empty(peer_index, COAP_RESET, (uint16_t)((bytes[2] << 8) | bytes[3]));
    }
    log_line("malformed datagram, error ", (uint32_t)error);
    return;
  }
  if (packet.type == COAP_ACK || packet.type == COAP_RESET) {
    settle(peer_index, &packet, peer);
    return;
  }
  if (packet.code == 0) {
    /* A CON ping (RFC 7252 §4.3) is answered with RST. */
    if (packet.type == COAP_CON) send_empty(peer_index, COAP_RESET, packet.message_id);
    return;
  }
  if (!core_is_new(core_peer(peer_index), packet.message_id, clock_ms())) {
    const cached_reply *reply = find_reply(peer_index, packet.message_id);
    if (reply) {
      send_datagram(peer_index, reply->bytes, reply->length);
    } else if (packet.type == COAP_CON) {
      send_empty(peer_index, COAP_ACK, packet.message_id);
    }
    return;
  }
  if (packet.code >= 64) {
    handle_response(peer_index, &packet, peer);
  } else if (packet.code <= 31) {
    handle_request(peer, peer_index, &packet);
  } else if (packet.type == COAP_CON) {
    send_empty(peer_index, COAP_RESET, packet.message_id);
  }
}

static void on_retransmission(int32_t slot, core_event event) {
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS || in_flight[slot].kind == OUT_FREE) return;
  outgoing *entry = &in_flight[slot];
  if (event == CORE_RETRANSMIT) {
    log_line("retransmit mid ", entry->mid);
    send_datagram(entry->peer, entry->bytes, entry->length);
    return;
  }
  outgoing_kind kind = entry->kind;
  entry->kind = OUT_FREE;
  if (kind == OUT_NOTIFICATION) {
    observers[entry->observer].con_pending = 0;
    forget_observer(entry->observer, "observer gave no ACK, removed ");
  } else if (entry->mid == request_mid && request_on_wire) {
    log_line("request given up, mid ", entry->mid);
    finish_request();
  }
}

void coap_start(uint32_t seed) {
  core_start(RETRANSMIT_SLOTS, DEDUP_SLOTS);
  core_seed(seed);
  next_mid = (uint16_t)random_next();
}

void coap_loop(uint32_t wake_at) {
  static uint8_t packet_in[SLIPMUX_MAX_FRAME];
  int byte;
  while ((byte = uart_read()) >= 0) {
    uint32_t length = slipmux_receive((uint8_t)byte, packet_in);
    udp_peer from;
    const uint8_t *payload;
    uint32_t payload_length;
    if (length > 0 && ipv4_udp_parse(packet_in, length, &from, &payload, &payload_length)) {
      handle_datagram(from, payload, payload_length);
    }
  }
  core_due(clock_ms(), on_retransmission);
  uint32_t deadline;
  if (core_next_deadline(&deadline) && (int32_t)(deadline - wake_at) < 0) wake_at = deadline;
  clock_sleep_until(wake_at);
}
