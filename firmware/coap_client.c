/* The device's client side: CON PUTs queued and sent one at a time (NSTART
   = 1, RFC 7252 §4.7), matched to their responses by token, piggybacked or
   separate. The link layer names the request on the wire by its exchange
   handle; Message IDs stay there. */
#include <string.h>
#include "clock.h"
#include "coap_client.h"
#include "coap_numbers.h"
#include "coap_simple.h"
#include "random.h"

#define REQUEST_QUEUE 8u
#define TOKEN_LENGTH 4u
#define MAX_PATH 64u
#define MAX_PAYLOAD 128u

typedef struct {
  int32_t peer;
  uint8_t token[TOKEN_LENGTH];
  char path[MAX_PATH];
  uint8_t payload[MAX_PAYLOAD];
  uint16_t payload_length;
  int32_t content_format;
} queued_request;

/* Where the queue head is: waiting, on the wire (exchange `on_wire`), or acknowledged with an empty ACK and
   waiting for its separate response until `separate_deadline`. */
typedef enum { IDLE, ON_WIRE, AWAITING_SEPARATE } request_state;

static queued_request queue[REQUEST_QUEUE];
static uint32_t queue_head, queue_size;
static request_state state;
static int32_t on_wire = LINK_NO_HANDLE;
static uint32_t separate_deadline;
static coap_callback response_callback;

void coap_response(coap_callback callback) { response_callback = callback; }

static void send_next_request(void);

static void finish_request(void) {
  link_hold(queue[queue_head].peer, -1);
  state = IDLE;
  on_wire = LINK_NO_HANDLE;
  queue_head = (queue_head + 1) % REQUEST_QUEUE;
  queue_size--;
  send_next_request();
}

static void send_next_request(void) {
  while (state == IDLE && queue_size > 0) {
    queued_request *head = &queue[queue_head];
    coap_message message = {0};
    message.code = COAP_CODE_PUT;
    message.token_length = TOKEN_LENGTH;
    memcpy(message.token, head->token, TOKEN_LENGTH);
    /* Each '/'-separated segment is one Uri-Path option. */
    const char *segment = head->path;
    while (*segment != 0) {
      const char *end = strchr(segment, '/');
      uint32_t length = end ? (uint32_t)(end - segment) : strlen(segment);
      coap_add_option(&message, COAP_OPTION_URI_PATH, (const uint8_t *)segment, length);
      segment += length + (end ? 1 : 0);
    }
    uint8_t format[2];
    if (head->content_format >= 0) {
      coap_add_option(&message, COAP_OPTION_CONTENT_FORMAT, format,
                      coap_uint_bytes((uint32_t)head->content_format, format));
    }
    message.payload = head->payload;
    message.payload_length = head->payload_length;
    on_wire = link_send_con(head->peer, &message, LINK_CLIENT);
    if (on_wire != LINK_NO_HANDLE) {
      state = ON_WIRE;
      return;
    }
    /* No room to track it (or no Message ID free): dropped rather than left blocking the queue. */
    link_log("request dropped, nothing to track it, queued ", queue_size);
    finish_request();
  }
}

int coap_put(udp_peer peer, const char *path, const char *payload, int32_t content_format) {
  uint32_t payload_length = strlen(payload);
  if (queue_size == REQUEST_QUEUE || strlen(path) >= MAX_PATH || payload_length > MAX_PAYLOAD) return 0;
  int32_t entry = link_peer(peer);
  if (entry < 0) return 0;
  /* The queued request lives on the peer's entry: its address must stay until the request is settled. */
  link_hold(entry, 1);
  queued_request *request = &queue[(queue_head + queue_size) % REQUEST_QUEUE];
  request->peer = entry;
  uint32_t token = random_next();
  memcpy(request->token, &token, TOKEN_LENGTH);
  strcpy(request->path, path);
  memcpy(request->payload, payload, payload_length);
  request->payload_length = (uint16_t)payload_length;
  request->content_format = content_format;
  queue_size++;
  send_next_request();
  return 1;
}

static void deliver(const coap_message *response) {
  if (response_callback) response_callback(response, link_address(queue[queue_head].peer));
  finish_request();
}

void client_exchange_ended(const link_event *outcome) {
  if (state != ON_WIRE || outcome->handle != on_wire) return;
  on_wire = LINK_NO_HANDLE;
  if (outcome->kind == LINK_RESET) {
    link_log("request reset, queued ", queue_size);
    finish_request();
  } else if (outcome->kind == LINK_TIMED_OUT) {
    link_log("request given up, queued ", queue_size);
    finish_request();
  } else if (outcome->message.code == COAP_CODE_EMPTY) {
    /* RFC 7252 §5.2.2: the response follows as its own message; past MAX_TRANSMIT_WAIT nobody expects it. */
    state = AWAITING_SEPARATE;
    separate_deadline = clock_ms() + COAP_MAX_TRANSMIT_WAIT_MS;
  } else {
    deliver(&outcome->message);
  }
}

void client_response(const link_event *response) {
  const queued_request *head = &queue[queue_head];
  const coap_message *message = &response->message;
  int ours = state != IDLE && head->peer == response->peer && message->token_length == TOKEN_LENGTH &&
             memcmp(head->token, message->token, TOKEN_LENGTH) == 0;
  if (!ours) {
    link_reset(response);
    return;
  }
  link_acknowledge(response);
  /* A separate response before the empty ACK (lost, then) shows the request arrived: stop resending it. */
  if (state == ON_WIRE) link_cancel(on_wire);
  deliver(&response->message);
}

int client_tick(uint32_t now, uint32_t *deadline) {
  if (state != AWAITING_SEPARATE) return 0;
  if ((int32_t)(now - separate_deadline) >= 0) {
    link_log("separate response never came, queued ", queue_size);
    finish_request();
    return 0;
  }
  *deadline = separate_deadline;
  return 1;
}
