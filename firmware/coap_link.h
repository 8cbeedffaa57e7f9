/* The device's CoAP message layer, shared by the server side (coap_simple.c)
   and the client side (coap_client.c): peers, Message IDs, ACK/RST,
   duplicate detection with cached replies, and CONs kept for retransmission
   by the core's scheduler. Internal to the firmware's CoAP code. */
#ifndef COAP_LINK_H
#define COAP_LINK_H
#include <stdint.h>
#include "coap_simple.h"

#define OPTION_URI_HOST 3
#define OPTION_OBSERVE 6
#define OPTION_URI_PORT 7
#define OPTION_URI_PATH 11
#define OPTION_CONTENT_FORMAT 12
#define OPTION_URI_QUERY 15
#define OPTION_ACCEPT 17
#define OPTION_BLOCK2 23

#define NO_PEER 0xFFu
/* The largest CON or reply kept for retransmission or for answering a duplicate. */
#define STORED_MESSAGE 320u

/* Who a CON in flight belongs to, so its ACK, RST or give-up reaches the right side. */
typedef enum { OUT_FREE, OUT_NOTIFICATION, OUT_REQUEST } outgoing_kind;

/* The entry of a peer (NO_PEER when every entry is still in use by an observation, a CON or a request). */
uint8_t link_peer(udp_peer address);
udp_peer link_address(uint8_t peer);
uint16_t link_new_mid(void);
void link_send(uint8_t peer, const uint8_t *bytes, uint32_t length);
void link_send_empty(uint8_t peer, uint8_t type, uint16_t mid);
/* A diagnostic line: `what` followed by a number. */
void link_log(const char *what, uint32_t value);
/* Keeps a CON for retransmission; `owner` is the observer for a notification. 0 when the table is full. */
int link_track(uint8_t peer, uint16_t mid, outgoing_kind kind, uint8_t owner, const uint8_t *bytes,
               uint32_t length);
/* RFC 7641 §4.5.2: a newer notification takes over the schedule of the unacknowledged one. 0 if none. */
int link_retrack(uint8_t peer, uint16_t old_mid, uint16_t new_mid, const uint8_t *bytes, uint32_t length);
/* Stops retransmitting a CON. */
void link_cancel(uint8_t peer, uint16_t mid);
/* Keeps the answer to a request, for its duplicates (RFC 7252 §4.5). */
void link_cache_reply(uint8_t peer, uint16_t mid, const uint8_t *bytes, uint32_t length);
uint32_t coap_uint_value(const coap_option *option);
/* Writes `value` as a minimal big-endian uint option value; returns its length (0-4). */
uint32_t coap_uint_bytes(uint32_t value, uint8_t *out);

/* Up-calls into the server side (coap_simple.c). */
void server_request(udp_peer peer, uint8_t peer_index, const coap_packet *packet);
void server_notification_settled(uint8_t observer, int reset);
void server_notification_lost(uint8_t observer);
void server_reset(uint8_t peer, uint16_t mid);
int server_uses_peer(uint8_t peer);

/* Up-calls into the client side (coap_client.c). */
void client_response(uint8_t peer_index, const coap_packet *packet, udp_peer peer);
void client_settled(uint16_t mid, const coap_packet *packet, udp_peer peer);
void client_lost(uint16_t mid);
int client_uses_peer(uint8_t peer);

#endif
