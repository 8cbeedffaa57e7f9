/* RFC 7641 on the device's server side: who observes which resource, the
   per-resource sequence numbers, and sending notifications through the link
   layer (NON, or CON every Nth time and while one is unacknowledged). */
#ifndef COAP_OBSERVE_H
#define COAP_OBSERVE_H
#include <stdint.h>
#include "coap_link.h"

#define MAX_OBSERVERS 8u
/* RFC 7641 §4.4: sequence numbers are 24 bits. */
#define OBSERVE_MASK 0xFFFFFFu
/* RFC 7641 §4.3.1 via RFC 7252 §5.10.5: a notification without Max-Age is fresh for 60 s. */
#define OBSERVE_DEFAULT_MAX_AGE 60u

/* The observation of `resource` by the sender of `request` (RFC 7641 §3.1: the same peer and token replace
   an older one); its index, or -1 when the table is full (the request gets a plain response). */
int observe_register(const link_event *request, uint8_t resource);
/* The observer of `resource` with the request's peer and token, or -1. */
int observe_find(const link_event *request, uint8_t resource);
/* Ends an observation; `why` and the index go to the log. */
void observe_forget(int observer, const char *why);
/* The resource's current sequence number (0 when its first observer registers, as in the Deno server). */
uint32_t observe_sequence(uint8_t resource);
/* The resource changed: its sequence number advances once for all its observers. */
void observe_advance(uint8_t resource);
/* The next observer of `resource` after index `after` (-1 to start), or -1. */
int observe_next(uint8_t resource, int after);
/* A GET as the observer's registration was, for its resource's callback to answer. */
void observe_request(int observer, coap_message *request);
udp_peer observe_address(int observer);
/* Sends a notification to the observer: CON or NON as the policy says, under its token. */
void observe_notify(int observer, uint32_t con_every, coap_message *notification);
/* A CON notification's outcome (LINK_ACKNOWLEDGED, LINK_RESET, LINK_TIMED_OUT). */
void observe_exchange_ended(int32_t handle, link_event_kind outcome);
/* RFC 7641 §3.6: an RST to a recent NON notification ends its observation. */
void observe_non_reset(int32_t handle);

#endif
