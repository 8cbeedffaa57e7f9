/* The server side as the event loop (coap_loop.c) and the observe registry
   (coap_observe.c) see it: requests in, and the resources' callbacks. */
#ifndef COAP_SERVER_H
#define COAP_SERVER_H
#include <stdint.h>
#include "coap_link.h"

#define SERVER_MAX_RESOURCES 8u

/* A new request from the link layer: checked, dispatched to its resource, answered. */
void server_request(const link_event *request);
/* A new request the core could not track: 5.03 Service Unavailable with Max-Age, never run. */
void server_busy(const link_event *request);

#endif
