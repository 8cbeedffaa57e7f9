/* The event loop on top of the link layer: it takes each event the link
   layer reports and hands it to the side it concerns, so the link layer
   includes neither side and neither side reaches into the other. */
#include "clock.h"
#include "coap_client.h"
#include "coap_link.h"
#include "coap_observe.h"
#include "coap_server.h"
#include "coap_simple.h"

void coap_start(uint32_t seed) { link_start(seed); }

static void dispatch(const link_event *event) {
  switch (event->kind) {
    case LINK_REQUEST:
      server_request(event);
      break;
    case LINK_BUSY:
      server_busy(event);
      break;
    case LINK_RESPONSE:
      client_response(event);
      break;
    case LINK_ACKNOWLEDGED:
    case LINK_RESET:
    case LINK_TIMED_OUT:
      if (event->owner == LINK_SERVER) {
        observe_exchange_ended(event->handle, event->kind);
      } else {
        client_exchange_ended(event);
      }
      break;
    case LINK_NON_RESET:
      if (event->owner == LINK_SERVER) observe_non_reset(event->handle);
      break;
  }
}

static void sooner(uint32_t *wake_at, uint32_t deadline) {
  if ((int32_t)(deadline - *wake_at) < 0) *wake_at = deadline;
}

void coap_loop(uint32_t wake_at) {
  link_event event;
  while (link_poll(&event)) dispatch(&event);
  uint32_t deadline;
  if (client_tick(clock_ms(), &deadline)) sooner(&wake_at, deadline);
  if (link_next_deadline(&deadline)) sooner(&wake_at, deadline);
  clock_sleep_until(wake_at);
}
