/* The device's CoAP API, shaped like the Arduino coap-simple library the lab's
   ESP32 sketch uses: register a callback per path with coap_server(), answer
   with coap_send_response(), send requests with coap_put(), and call
   coap_loop() from the sketch's loop(). Additions coap-simple lacks: Observe
   (coap_observable, coap_changed) and retransmission of CON requests and
   notifications by the core's scheduler. */
#ifndef COAP_SIMPLE_H
#define COAP_SIMPLE_H
#include <stdint.h>
#include "core_glue.h"
#include "ipv4_udp.h"

typedef coap_message coap_packet;
typedef void (*coap_callback)(const coap_packet *packet, udp_peer peer);

enum { COAP_CON = 0, COAP_NON = 1, COAP_ACK = 2, COAP_RESET = 3 };
enum { COAP_GET = 1, COAP_POST = 2, COAP_PUT = 3, COAP_DELETE = 4 };
/* Response codes as class << 5 | detail. */
enum {
  COAP_CHANGED = 0x44,
  COAP_CONTENT = 0x45,
  COAP_BAD_REQUEST = 0x80,
  COAP_BAD_OPTION = 0x82,
  COAP_NOT_FOUND = 0x84,
  COAP_METHOD_NOT_ALLOWED = 0x85,
  COAP_NOT_ACCEPTABLE = 0x86,
  COAP_INTERNAL_SERVER_ERROR = 0xA0,
};
enum { COAP_TEXT_PLAIN = 0, COAP_LINK_FORMAT = 40, COAP_JSON = 50, COAP_NO_FORMAT = -1 };

/* Starts the endpoint; `seed` drives Message IDs and the core's retransmission timeouts. */
void coap_start(uint32_t seed);
/* Registers `callback` for requests to `path` (no leading slash). */
void coap_server(coap_callback callback, const char *path);
/* Link attributes listed for `path` in /.well-known/core, e.g. "rt=\"temperature\";ct=0". */
void coap_describe(const char *path, const char *attributes);
/* Makes `path` observable (RFC 7641): every `con_every`-th notification is CON, the rest NON. */
void coap_observable(const char *path, uint32_t con_every);
/* Notifies every observer of `path`: its callback runs once per observer and its response is the notification. */
void coap_changed(const char *path);
/* Registers the callback for responses to the device's own requests. */
void coap_response(coap_callback callback);
/* Answers the request `packet` (a piggybacked ACK, a NON, or a notification); returns the Message ID used. */
uint16_t coap_send_response(udp_peer peer, const coap_packet *packet, uint8_t code, int32_t content_format,
                            const char *payload, uint32_t length);
/* Queues a CON PUT; sent when the previous request to the peer is settled (NSTART = 1) and retransmitted
   until ACKed or given up. Returns 0 when the queue is full, else 1. */
int coap_put(udp_peer peer, const char *path, const char *payload, int32_t content_format);
/* Handles received datagrams and due retransmissions, then sleeps until `wake_at` (ms) or the next event. */
void coap_loop(uint32_t wake_at);
/* The value of the first option `number` in `packet`, or 0 when absent. */
const coap_option *coap_find_option(const coap_packet *packet, uint16_t number);
/* The "/.well-known/core" listing of the registered paths (RFC 6690). */
uint32_t coap_link_format(char *out, uint32_t capacity);
/* Observers currently registered. */
uint32_t coap_observer_count(void);

#endif
