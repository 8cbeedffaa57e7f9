/* Observers and notifications (RFC 7641), as src/server/observe.ts keeps
   them for Deno. Notifications in flight are named by the link layer's
   handles: the exchange of the unacknowledged CON, the recent NONs. */
#include <string.h>
#include "clock.h"
#include "coap_numbers.h"
#include "coap_observe.h"
#include "coap_server.h"
#include "coap_simple.h"

/* RFC 7641 §4.5: a notification is Confirmable at least once every 24 hours. */
#define CON_AT_LEAST_EVERY_MS (24u * 60u * 60u * 1000u)

typedef struct {
  int used;
  uint8_t resource;
  int32_t peer;
  uint8_t token_length;
  uint8_t token[8];
  uint32_t notifications;
  uint32_t last_confirmable_at;
  /* The unacknowledged CON notification (RFC 7641 §4.5.2: a newer one takes over its schedule). */
  int32_t pending;
} observer;

static observer observers[MAX_OBSERVERS];
/* The observer each recent NON notification went to, plus 1 (0: none), by recent-NON handle. */
static uint8_t non_observer[CORE_NON_HANDLES];
/* Per resource, as the Deno server numbers them: one sequence for all its observers. */
static uint32_t sequences[SERVER_MAX_RESOURCES];

uint32_t coap_observer_count(void) {
  uint32_t count = 0;
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) count += observers[i].used != 0;
  return count;
}

static int find(int32_t peer, const uint8_t *token, uint8_t token_length, uint8_t resource) {
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    const observer *o = &observers[i];
    if (o->used && o->resource == resource && o->peer == peer && o->token_length == token_length &&
        memcmp(o->token, token, token_length) == 0) {
      return (int)i;
    }
  }
  return -1;
}

int observe_find(const link_event *request, uint8_t resource) {
  return find(request->peer, request->message.token, request->message.token_length, resource);
}

int observe_next(uint8_t resource, int after) {
  for (uint32_t i = (uint32_t)(after + 1); i < MAX_OBSERVERS; i++) {
    if (observers[i].used && observers[i].resource == resource) return (int)i;
  }
  return -1;
}

int observe_register(const link_event *request, uint8_t resource) {
  int index = observe_find(request, resource);
  if (index >= 0 || request->peer < 0) return index;
  for (uint32_t i = 0; index < 0 && i < MAX_OBSERVERS; i++) {
    if (!observers[i].used) index = (int)i;
  }
  if (index < 0) return -1;
  if (observe_next(resource, -1) < 0) sequences[resource] = 0;
  observer *o = &observers[index];
  memset(o, 0, sizeof *o);
  o->used = 1;
  o->resource = resource;
  o->peer = request->peer;
  o->token_length = request->message.token_length;
  memcpy(o->token, request->message.token, o->token_length);
  o->last_confirmable_at = clock_ms();
  o->pending = LINK_NO_HANDLE;
  /* The observation lives on the peer's entry: its address, its Message IDs, the NONs it may reset. */
  link_hold(o->peer, 1);
  return index;
}

void observe_forget(int index, const char *why) {
  observer *o = &observers[index];
  if (!o->used) return;
  if (o->pending != LINK_NO_HANDLE) link_cancel(o->pending);
  for (uint32_t i = 0; i < CORE_NON_HANDLES; i++) {
    if (non_observer[i] == (uint8_t)(index + 1)) non_observer[i] = 0;
  }
  link_hold(o->peer, -1);
  o->used = 0;
  link_log(why, (uint32_t)index);
}

uint32_t observe_sequence(uint8_t resource) { return sequences[resource]; }

void observe_advance(uint8_t resource) { sequences[resource] = (sequences[resource] + 1) & OBSERVE_MASK; }

void observe_request(int index, coap_message *request) {
  const observer *o = &observers[index];
  memset(request, 0, sizeof *request);
  request->type = COAP_TYPE_CON;
  request->code = COAP_CODE_GET;
  request->token_length = o->token_length;
  memcpy(request->token, o->token, o->token_length);
}

udp_peer observe_address(int index) { return link_address(observers[index].peer); }

static int is_success(uint8_t code) { return (code >> 5) == 2; }

void observe_notify(int index, uint32_t con_every, coap_message *notification) {
  observer *o = &observers[index];
  int32_t peer = o->peer;
  notification->token_length = o->token_length;
  memcpy(notification->token, o->token, o->token_length);
  if (!is_success(notification->code)) {
    /* RFC 7641 §4.2: an error response ends the observation; it goes out as a CON, without Observe. */
    observe_forget(index, "observation ended by error response ");
    link_send_con(peer, notification, LINK_SERVER);
    return;
  }
  uint32_t now = clock_ms();
  o->notifications++;
  int confirmable = o->pending != LINK_NO_HANDLE || (con_every > 0 && o->notifications % con_every == 0) ||
                    now - o->last_confirmable_at >= CON_AT_LEAST_EVERY_MS;
  if (!confirmable) {
    int32_t handle = link_send_non(peer, notification, LINK_SERVER);
    if (handle >= 0) non_observer[handle] = (uint8_t)(index + 1);
    return;
  }
  o->last_confirmable_at = now;
  int32_t handle = o->pending != LINK_NO_HANDLE ? link_replace_con(o->pending, notification) : LINK_NO_HANDLE;
  if (handle == LINK_NO_HANDLE) handle = link_send_con(peer, notification, LINK_SERVER);
  if (handle == LINK_NO_HANDLE) {
    o->pending = LINK_NO_HANDLE;
    observe_forget(index, "observer dropped (retransmission table full) ");
    return;
  }
  o->pending = handle;
}

void observe_exchange_ended(int32_t handle, link_event_kind outcome) {
  for (uint32_t i = 0; i < MAX_OBSERVERS; i++) {
    observer *o = &observers[i];
    if (!o->used || o->pending != handle) continue;
    o->pending = LINK_NO_HANDLE;
    if (outcome == LINK_RESET) observe_forget((int)i, "observer reset a notification ");
    if (outcome == LINK_TIMED_OUT) observe_forget((int)i, "observer gave no ACK, removed ");
    return;
  }
}

void observe_non_reset(int32_t handle) {
  if (handle < 0 || handle >= (int32_t)CORE_NON_HANDLES || non_observer[handle] == 0) return;
  int index = non_observer[handle] - 1;
  non_observer[handle] = 0;
  observe_forget(index, "observer reset a notification ");
}
