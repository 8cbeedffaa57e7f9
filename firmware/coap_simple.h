/* The device's CoAP API, shaped like the Arduino coap-simple library the lab's
   ESP32 sketch uses: register a callback per path with coap_server(), answer
   with coap_send_response(), send requests with coap_put(), and call
   coap_loop() from the sketch's loop(). Additions coap-simple lacks: Observe
   (coap_observable, coap_changed) and retransmission of CON requests and
   notifications by the core's scheduler. */
#ifndef COAP_SIMPLE_H
#define COAP_SIMPLE_H
#include <stdint.h>
#include "coap_numbers.h"
#include "coap_option.h"
#include "core_glue.h"
#include "ipv4_udp.h"

typedef coap_message coap_packet;
typedef void (*coap_callback)(const coap_packet *packet, udp_peer peer);

/* coap-simple's names for the numbers the sketch uses; the values come from coap_numbers.h (generated). */
#define COAP_CON COAP_TYPE_CON
#define COAP_NON COAP_TYPE_NON
#define COAP_ACK COAP_TYPE_ACK
#define COAP_RESET COAP_TYPE_RST
#define COAP_GET COAP_CODE_GET
#define COAP_POST COAP_CODE_POST
#define COAP_PUT COAP_CODE_PUT
#define COAP_DELETE COAP_CODE_DELETE
#define COAP_CHANGED COAP_CODE_CHANGED
#define COAP_CONTENT COAP_CODE_CONTENT
#define COAP_BAD_REQUEST COAP_CODE_BAD_REQUEST
#define COAP_METHOD_NOT_ALLOWED COAP_CODE_METHOD_NOT_ALLOWED
#define COAP_TEXT_PLAIN COAP_FORMAT_TEXT_PLAIN
#define COAP_LINK_FORMAT COAP_FORMAT_LINK_FORMAT
#define COAP_JSON COAP_FORMAT_JSON
/* No Content-Format option. */
#define COAP_NO_FORMAT (-1)

/* Starts the endpoint; `seed` drives the core's retransmission timeouts and first Message IDs. */
void coap_start(uint32_t seed);
/* Registers `callback` for requests to `path` (no leading slash). */
void coap_server(coap_callback callback, const char *path);
/* Link attributes listed for `path` in /.well-known/core, e.g. "rt=\"temperature\";ct=0". */
void coap_describe(const char *path, const char *attributes);
/* Makes `path` observable (RFC 7641): every `con_every`-th notification is CON, the rest NON. */
void coap_observable(const char *path, uint32_t con_every);
/* Notifies every observer of `path`: its callback runs once per observer, and its response is the
   notification. Call it from the sketch's loop, not from a callback. */
void coap_changed(const char *path);
/* Registers the callback for responses to the device's own requests. */
void coap_response(coap_callback callback);
/* Answers the request `packet` (a piggybacked ACK, a NON, or a notification); 1 when it went out. */
int coap_send_response(udp_peer peer, const coap_packet *packet, uint8_t code, int32_t content_format,
                       const char *payload, uint32_t length);
/* Queues a CON PUT; sent when the previous request is settled (NSTART = 1) and retransmitted until ACKed or
   given up. Returns 0 when the queue is full (or the path or payload too long), else 1. */
int coap_put(udp_peer peer, const char *path, const char *payload, int32_t content_format);
/* Handles received datagrams and due retransmissions, then sleeps until `wake_at` (ms) or the next event. */
void coap_loop(uint32_t wake_at);
/* The "/.well-known/core" listing of the registered paths (RFC 6690). */
uint32_t coap_link_format(char *out, uint32_t capacity);
/* Observers currently registered. */
uint32_t coap_observer_count(void);

#endif
