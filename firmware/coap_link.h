/* The device's CoAP message layer host (RFC 7252 §4): it moves datagrams
   between the serial link and the core, acts on the core's verdict for each
   one, keeps the replies for duplicates and the CONs for retransmission, and
   reports what the layers above must know as events. Everything that knows a
   Message ID is here or in the core; above it, messages are named by handles:
   an exchange handle for a CON sent, a recent-NON handle for a NON sent.
   It knows nothing of resources, tokens or observers. */
#ifndef COAP_LINK_H
#define COAP_LINK_H
#include <stdint.h>
#include "core_glue.h"
#include "ipv4_udp.h"

/* The largest CON or reply kept for retransmission or for answering a duplicate. */
#define LINK_STORED_MESSAGE 320u
#define LINK_NO_HANDLE (-1)

/* Who sent a CON or NON, so its outcome reaches the right side. */
typedef enum { LINK_SERVER, LINK_CLIENT } link_owner;

typedef enum {
  /* A new request: answer it with link_respond (layout.h ACTION_REQUEST). */
  LINK_REQUEST,
  /* A new request no table of the core could track: answer 5.03 with Max-Age `retry_after`; never run it. */
  LINK_BUSY,
  /* A new CON or NON response, perhaps the separate one to our request: link_acknowledge or link_reset. */
  LINK_RESPONSE,
  /* The exchange `handle` was acknowledged; a non-zero message.code is the piggybacked response. */
  LINK_ACKNOWLEDGED,
  /* The exchange `handle` was answered with RST. */
  LINK_RESET,
  /* The exchange `handle` got no ACK or RST after MAX_RETRANSMIT retransmissions (RFC 7252 §4.2). */
  LINK_TIMED_OUT,
  /* The recent NON `handle` was answered with RST (RFC 7641 §3.6). */
  LINK_NON_RESET,
} link_event_kind;

typedef struct {
  link_event_kind kind;
  /* ACKNOWLEDGED, RESET, TIMED_OUT, NON_RESET: who sent the CON or NON. */
  link_owner owner;
  /* The exchange or recent-NON handle; for REQUEST and RESPONSE the link's own (its reply store). */
  int32_t handle;
  /* The core's peer entry of the sender; -1 for a BUSY request whose sender could get none. */
  int32_t peer;
  udp_peer from;
  /* BUSY: seconds until the core expects room. */
  uint32_t retry_after;
  /* REQUEST, BUSY, RESPONSE, ACKNOWLEDGED: the message, valid until the next link_poll. */
  coap_message message;
  /* The datagram's length in bytes (RFC 7252 §11.3 measures an answer against it). */
  uint32_t size;
} link_event;

/* Starts the core with the device's table sizes and seeds it. */
void link_start(uint32_t seed);
/* Handles due retransmissions and received datagrams until one gives an event (1), or none is left (0). */
int link_poll(link_event *event);
/* Whether a CON is outstanding; if so, when the next retransmission or give-up is due (ms). */
int link_next_deadline(uint32_t *deadline);
/* The peer entry for `address` (the core's; added if new); -1 when every entry is pinned. */
int32_t link_peer(udp_peer address);
udp_peer link_address(int32_t peer);
/* Pins (+1) or unpins (-1) a peer entry while an observation or a queued request lives on it. */
void link_hold(int32_t peer, int32_t delta);
/* Answers a REQUEST or BUSY: in the ACK of a CON (kept for its duplicates), or as a NON to a NON. */
int link_respond(const link_event *request, coap_message *response);
/* RFC 7252 §5.2.2: the empty ACK of a CON whose response follows separately, or of a separate response. */
void link_acknowledge(const link_event *inbound);
/* Rejects an inbound CON or NON with RST (RFC 7252 §4.2, §4.3). */
void link_reset(const link_event *inbound);
/* Sends a CON and retransmits it until settled; its exchange handle, or -1 (nothing sent). */
int32_t link_send_con(int32_t peer, coap_message *message, link_owner owner);
/* RFC 7641 §4.5.2: `message` takes over the outstanding CON `handle` (its schedule and handle); -1 if it is
   no longer outstanding (nothing sent). */
int32_t link_replace_con(int32_t handle, coap_message *message);
/* Stops retransmitting the CON `handle`; its outcome is never reported. */
void link_cancel(int32_t handle);
/* Sends a NON; its recent-NON handle, which an RST to it reports, or -1 when it cannot be tracked. */
int32_t link_send_non(int32_t peer, coap_message *message, link_owner owner);
/* A diagnostic line: `what` followed by a number. */
void link_log(const char *what, uint32_t value);

#endif
