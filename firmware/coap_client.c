/* The device's client side: CON PUTs queued and sent one at a time (NSTART
   = 1, RFC 7252 §4.7), matched to their responses by token, piggybacked or
   separate. */
#include <string.h>
#include "coap_link.h"
#include "random.h"

#define REQUEST_QUEUE 8u
#define TOKEN_LENGTH 4u

typedef struct {
  uint8_t peer;
  uint8_t token[TOKEN_LENGTH];
  uint16_t length;
  uint8_t bytes[STORED_MESSAGE];
} queued_request;

static queued_request queue[REQUEST_QUEUE];
static uint32_t queue_head, queue_size;
/* Whether the queue head is on the wire, under which Message ID, and whether an empty ACK said its response
   comes separately. */
static int request_on_wire;
static int request_awaiting_separate;
static uint16_t request_mid;
static coap_callback response_callback;

void coap_response(coap_callback callback) { response_callback = callback; }

int client_uses_peer(uint8_t peer) {
  for (uint32_t i = 0; i < queue_size; i++) {
    if (queue[(queue_head + i) % REQUEST_QUEUE].peer == peer) return 1;
  }
  return 0;
}

static void send_next_request(void) {
  if (request_on_wire || queue_size == 0) return;
  queued_request *head = &queue[queue_head];
  request_mid = link_new_mid();
  head->bytes[2] = (uint8_t)(request_mid >> 8);
  head->bytes[3] = (uint8_t)request_mid;
  if (!link_track(head->peer, request_mid, OUT_REQUEST, 0, head->bytes, head->length)) return;
  link_send(head->peer, head->bytes, head->length);
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
  uint8_t peer_index = link_peer(peer);
  if (queue_size == REQUEST_QUEUE || peer_index == NO_PEER) return 0;
  queued_request *request = &queue[(queue_head + queue_size) % REQUEST_QUEUE];
  coap_message message = {0};
  message.type = COAP_CON;
  message.code = COAP_PUT;
  message.token_length = TOKEN_LENGTH;
  uint32_t token = random_next();
  memcpy(message.token, &token, TOKEN_LENGTH);
  /* Each '/'-separated segment is one Uri-Path option; they point into `path` until encoded. */
  const char *segment = path;
  while (*segment != 0 && message.option_count < COAP_MAX_OPTIONS - 1) {
    const char *end = strchr(segment, '/');
    uint32_t length = end ? (uint32_t)(end - segment) : strlen(segment);
    message.options[message.option_count++] =
        (coap_option){OPTION_URI_PATH, (uint16_t)length, (const uint8_t *)segment};
    segment += length + (end ? 1 : 0);
  }
  uint8_t format[2];
  if (content_format >= 0) {
    message.options[message.option_count++] =
        (coap_option){OPTION_CONTENT_FORMAT, (uint16_t)coap_uint_bytes((uint32_t)content_format, format), format};
  }
  message.payload = (const uint8_t *)payload;
  message.payload_length = strlen(payload);
  int32_t length = core_encode(&message, request->bytes, STORED_MESSAGE);
  if (length < 0) return 0;
  request->length = (uint16_t)length;
  request->peer = peer_index;
  memcpy(request->token, message.token, TOKEN_LENGTH);
  queue_size++;
  send_next_request();
  return 1;
}

void client_settled(uint16_t mid, const coap_packet *packet, udp_peer peer) {
  if (!request_on_wire || mid != request_mid) return;
  if (packet->type == COAP_RESET) {
    link_log("request reset, mid ", mid);
    finish_request();
  } else if (packet->code == 0) {
    request_awaiting_separate = 1;
  } else {
    if (response_callback) response_callback(packet, peer);
    finish_request();
  }
}

void client_lost(uint16_t mid) {
  if (!request_on_wire || mid != request_mid) return;
  link_log("request given up, mid ", mid);
  finish_request();
}

/* A CON or NON response: a separate response to our request, or unknown (rejected with RST). */
void client_response(uint8_t peer_index, const coap_packet *packet, udp_peer peer) {
  queued_request *head = &queue[queue_head];
  int ours = request_on_wire && head->peer == peer_index && packet->token_length == TOKEN_LENGTH &&
             memcmp(head->token, packet->token, TOKEN_LENGTH) == 0;
  if (!ours) {
    link_send_empty(peer_index, COAP_RESET, packet->message_id);
    return;
  }
  if (packet->type == COAP_CON) link_send_empty(peer_index, COAP_ACK, packet->message_id);
  /* A response without an empty ACK first also settles the request's retransmission. */
  if (!request_awaiting_separate) link_cancel(peer_index, request_mid);
  if (response_callback) response_callback(packet, peer);
  finish_request();
}
