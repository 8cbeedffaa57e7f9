/* The client side as the event loop (coap_loop.c) sees it: responses and
   the outcomes of its CON requests in, and a deadline for a separate
   response that never comes. */
#ifndef COAP_CLIENT_H
#define COAP_CLIENT_H
#include <stdint.h>
#include "coap_link.h"

/* A separate CON or NON response (RFC 7252 §5.2.2); one to no request of ours is rejected with RST. */
void client_response(const link_event *response);
/* The outcome of a request's exchange: LINK_ACKNOWLEDGED (with the response, or empty), LINK_RESET or
   LINK_TIMED_OUT. */
void client_exchange_ended(const link_event *outcome);
/* Gives up a request whose separate response is overdue; when the next such deadline is (1), if any. */
int client_tick(uint32_t now, uint32_t *deadline);

#endif
