/* The message layer host: a switch over the core's verdict for each
   datagram, plus the I/O and the storage the core leaves to its host (reply
   bytes, CON bytes, peer addresses), as src/endpoint/endpoint.ts does for
   Deno. */
#include <string.h>
#include "clock.h"
#include "coap_link.h"
#include "coap_numbers.h"
#include "layout.h"
#include "random.h"
#include "slipmux.h"
#include "text.h"
#include "uart.h"

/* A CON in flight, by the core's retransmit slot. */
typedef struct {
  int used;
  link_owner owner;
  /* The handle the layers above know it by (see next_handle). */
  int32_t handle;
  int32_t peer;
  uint16_t message_id;
  uint16_t length;
  uint8_t bytes[LINK_STORED_MESSAGE];
} outgoing;

/* The answer to a remembered message, by the core's dedup handle (RFC 7252 §4.5: a duplicate CON gets it
   again). Length 0: none yet. */
typedef struct {
  uint16_t length;
  uint8_t bytes[LINK_STORED_MESSAGE];
} kept_reply;

/* The address of each peer entry, refreshed whenever the core gives an entry to a new occupant. */
static udp_peer addresses[CORE_PEERS];
static outgoing in_flight[CORE_RETRANSMIT_SLOTS];
static kept_reply replies[CORE_DEDUP_HANDLES];
static link_owner non_owner[CORE_NON_HANDLES];
/* Give-ups found by the last core_due, reported one link_poll at a time. */
static struct {
  int32_t handle;
  link_owner owner;
} timed_out[CORE_RETRANSMIT_SLOTS];
static uint32_t timed_out_count, timed_out_next;
/* Exchange handles are the slot plus a multiple of the slot count that changes with every CON: the core
   frees a slot at give-up, so a CON sent before that give-up is reported may reuse the slot, and its
   handle must still differ from the one given up. */
static uint32_t handle_serial;
static uint8_t packet_in[SLIPMUX_MAX_FRAME];
static uint8_t packet_out[SLIPMUX_MAX_FRAME];
static uint8_t datagram_out[COAP_MAX_DATAGRAM];

void link_log(const char *what, uint32_t value) {
  char buffer[96];
  text t = text_over(buffer, sizeof buffer);
  text_add(&t, what);
  text_add_u32(&t, value);
  slipmux_send_diagnostic(buffer);
}

void link_start(uint32_t seed) {
  core_start();
  core_seed(seed);
}

static void send_to(udp_peer to, const uint8_t *bytes, uint32_t length) {
  slipmux_send_packet(packet_out, ipv4_udp_build(to, bytes, length, packet_out));
}

static void send_empty(udp_peer to, uint8_t type, uint16_t message_id) {
  uint8_t bytes[4] = {(uint8_t)(0x40 | (type << 4)), 0, (uint8_t)(message_id >> 8), (uint8_t)message_id};
  send_to(to, bytes, sizeof bytes);
}

static kept_reply *kept_reply_of(int32_t handle) {
  return handle >= 0 && handle < (int32_t)CORE_DEDUP_HANDLES ? &replies[handle] : 0;
}

static void keep_reply(int32_t handle, const uint8_t *bytes, uint32_t length) {
  kept_reply *kept = kept_reply_of(handle);
  if (kept == 0) return;
  if (length > LINK_STORED_MESSAGE) {
    /* Too large to keep: a duplicate of this CON will get no answer. */
    link_log("reply too large to keep for duplicates, bytes ", length);
    length = 0;
  }
  kept->length = (uint16_t)length;
  if (length > 0) memcpy(kept->bytes, bytes, length);
}

/* The core gave `peer` to a new occupant: what was kept for the old one's safe window goes. */
static void adopt_peer(int32_t peer, udp_peer address) {
  addresses[peer] = address;
  for (uint32_t i = 0; i < CORE_SAFE_WINDOW; i++) replies[(uint32_t)peer * CORE_SAFE_WINDOW + i].length = 0;
}

int32_t link_peer(udp_peer address) {
  int is_new = 0;
  int32_t peer = core_peer_for(address.ip, sizeof address.ip, address.port, clock_ms(), &is_new);
  if (peer >= 0 && is_new) adopt_peer(peer, address);
  return peer;
}

udp_peer link_address(int32_t peer) { return addresses[peer]; }

void link_hold(int32_t peer, int32_t delta) { core_peer_hold(peer, delta); }

int link_next_deadline(uint32_t *deadline) { return core_next_deadline(deadline); }

/* Encodes into datagram_out; the length, or -1 (logged). */
static int32_t encode(const coap_message *message) {
  int32_t length = core_encode(message, datagram_out, sizeof datagram_out);
  if (length < 0) link_log("encode failed, error ", (uint32_t)-length);
  return length;
}

/* An ACK or RST answering an inbound CON, kept under its dedup handle. */
static int reply(const link_event *inbound, const coap_message *message) {
  int32_t length = encode(message);
  if (length < 0) return 0;
  send_to(inbound->from, datagram_out, (uint32_t)length);
  keep_reply(inbound->handle, datagram_out, (uint32_t)length);
  return 1;
}

static void reply_empty(const link_event *inbound, uint8_t type) {
  coap_message message = {0};
  message.type = type;
  message.message_id = inbound->message.message_id;
  reply(inbound, &message);
}

/* A NON to `to`; its Message ID, or -1. Without a peer entry the ID need only differ from recent ones. */
static int32_t send_non_to(int32_t peer, udp_peer to, coap_message *message) {
  int32_t message_id =
      peer < 0 ? (int32_t)(random_next() & 0xFFFF) : core_allocate_message_id(peer, clock_ms());
  if (message_id < 0) return -1;
  message->type = COAP_TYPE_NON;
  message->message_id = (uint16_t)message_id;
  int32_t length = encode(message);
  if (length < 0) return -1;
  send_to(to, datagram_out, (uint32_t)length);
  return message_id;
}

int link_respond(const link_event *request, coap_message *response) {
  if (request->message.type == COAP_TYPE_CON) {
    response->type = COAP_TYPE_ACK;
    response->message_id = request->message.message_id;
    return reply(request, response);
  }
  return send_non_to(request->peer, request->from, response) >= 0;
}

void link_acknowledge(const link_event *inbound) {
  if (inbound->message.type == COAP_TYPE_CON) reply_empty(inbound, COAP_TYPE_ACK);
}

void link_reset(const link_event *inbound) { reply_empty(inbound, COAP_TYPE_RST); }

int32_t link_send_non(int32_t peer, coap_message *message, link_owner owner) {
  if (peer < 0) return -1;
  int32_t message_id = send_non_to(peer, addresses[peer], message);
  if (message_id < 0) return -1;
  int32_t handle = core_record_non(peer, (uint16_t)message_id, clock_ms());
  if (handle >= 0 && handle < (int32_t)CORE_NON_HANDLES) non_owner[handle] = owner;
  return handle;
}

static outgoing *outgoing_of(int32_t handle) {
  if (handle < 0) return 0;
  outgoing *entry = &in_flight[(uint32_t)handle % CORE_RETRANSMIT_SLOTS];
  return entry->used && entry->handle == handle ? entry : 0;
}

/* Gives `message` a fresh Message ID for a CON to `peer` and encodes it; the length, or -1. */
static int32_t prepare_con(int32_t peer, coap_message *message) {
  int32_t message_id = core_allocate_message_id(peer, clock_ms());
  if (message_id < 0) return -1;
  message->type = COAP_TYPE_CON;
  message->message_id = (uint16_t)message_id;
  int32_t length = encode(message);
  if ((uint32_t)length > LINK_STORED_MESSAGE) {
    if (length > 0) link_log("CON too large to keep for retransmission, bytes ", (uint32_t)length);
    return -1;
  }
  return length;
}

static void keep_con(outgoing *entry, uint16_t message_id, uint32_t length) {
  entry->message_id = message_id;
  entry->length = (uint16_t)length;
  memcpy(entry->bytes, datagram_out, length);
}

int32_t link_send_con(int32_t peer, coap_message *message, link_owner owner) {
  if (peer < 0) return -1;
  int32_t length = prepare_con(peer, message);
  if (length < 0) return -1;
  int32_t slot = core_schedule(peer, message->message_id, clock_ms());
  if (slot < 0 || slot >= (int32_t)CORE_RETRANSMIT_SLOTS) return -1;
  outgoing *entry = &in_flight[slot];
  handle_serial = (handle_serial + 1) & 0xFFFFu;
  entry->used = 1;
  entry->owner = owner;
  entry->handle = (int32_t)(handle_serial * CORE_RETRANSMIT_SLOTS) + slot;
  entry->peer = peer;
  keep_con(entry, message->message_id, (uint32_t)length);
  send_to(addresses[peer], datagram_out, (uint32_t)length);
  return entry->handle;
}

int32_t link_replace_con(int32_t handle, coap_message *message) {
  outgoing *entry = outgoing_of(handle);
  if (entry == 0) return -1;
  int32_t length = prepare_con(entry->peer, message);
  if (length < 0) return -1;
  int32_t slot = (int32_t)(entry - in_flight);
  if (!core_rekey(slot, entry->peer, entry->message_id, message->message_id)) return -1;
  keep_con(entry, message->message_id, (uint32_t)length);
  send_to(addresses[entry->peer], datagram_out, (uint32_t)length);
  return handle;
}

void link_cancel(int32_t handle) {
  outgoing *entry = outgoing_of(handle);
  if (entry == 0) return;
  core_cancel((int32_t)(entry - in_flight), entry->peer, entry->message_id);
  entry->used = 0;
}

/* Retransmits what is due and queues the give-ups (the core has already freed their slots). */
static void collect_due(uint32_t now) {
  int32_t slots[CORE_RETRANSMIT_SLOTS];
  core_event events[CORE_RETRANSMIT_SLOTS];
  uint32_t count = core_due(now, slots, events);
  timed_out_count = timed_out_next = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (slots[i] < 0 || slots[i] >= (int32_t)CORE_RETRANSMIT_SLOTS || !in_flight[slots[i]].used) continue;
    outgoing *entry = &in_flight[slots[i]];
    if (events[i] == CORE_RETRANSMIT) {
      link_log("retransmit mid ", entry->message_id);
      send_to(addresses[entry->peer], entry->bytes, entry->length);
      continue;
    }
    entry->used = 0;
    timed_out[timed_out_count].handle = entry->handle;
    timed_out[timed_out_count].owner = entry->owner;
    timed_out_count++;
  }
}

/* An ACK or RST that settled one of our CONs. */
static int settled(int32_t slot, link_event_kind kind, link_event *event) {
  if (slot < 0 || slot >= (int32_t)CORE_RETRANSMIT_SLOTS || !in_flight[slot].used) return 0;
  in_flight[slot].used = 0;
  event->kind = kind;
  event->owner = in_flight[slot].owner;
  event->handle = in_flight[slot].handle;
  return 1;
}

/* Acts on the core's verdict on one datagram; 1 when it gives the layers above an event. */
static int receive_datagram(udp_peer from, const uint8_t *bytes, uint32_t length, link_event *event) {
  core_verdict verdict;
  core_receive(bytes, length, from.ip, sizeof from.ip, from.port, clock_ms(), &verdict);
  if (verdict.peer >= 0 && verdict.peer_is_new) adopt_peer(verdict.peer, from);
  if (!verdict.parsed) link_log("malformed datagram, length ", length);
  if (verdict.action == ACTION_RESET) {
    send_empty(from, COAP_TYPE_RST, verdict.message_id);
    return 0;
  }
  if (!verdict.parsed || verdict.action == ACTION_IGNORE) return 0;
  if (verdict.action == ACTION_DUPLICATE) {
    /* RFC 7252 §4.5: a duplicate CON gets the same answer again, once there is one; a NON is dropped. */
    const kept_reply *kept = kept_reply_of(verdict.handle);
    if (verdict.type == COAP_TYPE_CON && kept && kept->length > 0) send_to(from, kept->bytes, kept->length);
    return 0;
  }
  event->from = from;
  event->size = length;
  event->peer = verdict.peer;
  event->handle = verdict.handle;
  event->message.type = verdict.type;
  event->message.message_id = verdict.message_id;
  if (core_message(&event->message) != 0) {
    link_log("more options than the device keeps, type ", verdict.type);
    /* A new CON it cannot process is rejected (RFC 7252 §4.2); an ACK or RST still settles its exchange. */
    if (verdict.action != ACTION_ACKNOWLEDGED && verdict.action != ACTION_EXCHANGE_RESET &&
        verdict.action != ACTION_NON_RESET) {
      if (verdict.type == COAP_TYPE_CON) reply_empty(event, COAP_TYPE_RST);
      return 0;
    }
  }
  switch (verdict.action) {
    case ACTION_REQUEST:
    case ACTION_RESPONSE:
      /* A new message under this handle: what was kept for the handle's last one goes. */
      keep_reply(verdict.handle, 0, 0);
      event->kind = verdict.action == ACTION_REQUEST ? LINK_REQUEST : LINK_RESPONSE;
      return 1;
    case ACTION_ACKNOWLEDGED:
      return settled(verdict.handle, LINK_ACKNOWLEDGED, event);
    case ACTION_EXCHANGE_RESET:
      return settled(verdict.handle, LINK_RESET, event);
    case ACTION_NON_RESET:
      if (verdict.non_handle < 0 || verdict.non_handle >= (int32_t)CORE_NON_HANDLES) return 0;
      event->kind = LINK_NON_RESET;
      event->handle = verdict.non_handle;
      event->owner = non_owner[verdict.non_handle];
      return 1;
    case ACTION_BUSY:
      event->kind = LINK_BUSY;
      event->handle = LINK_NO_HANDLE;
      event->retry_after = verdict.retry_after;
      return 1;
    default:
      return 0;
  }
}

int link_poll(link_event *event) {
  if (timed_out_next == timed_out_count) collect_due(clock_ms());
  if (timed_out_next < timed_out_count) {
    event->kind = LINK_TIMED_OUT;
    event->handle = timed_out[timed_out_next].handle;
    event->owner = timed_out[timed_out_next].owner;
    event->peer = -1;
    event->message = (coap_message){0};
    timed_out_next++;
    return 1;
  }
  int byte;
  while ((byte = uart_read()) >= 0) {
    uint32_t length = slipmux_receive((uint8_t)byte, packet_in);
    udp_peer from;
    const uint8_t *payload;
    uint32_t payload_length;
    if (length > 0 && ipv4_udp_parse(packet_in, length, &from, &payload, &payload_length) &&
        receive_datagram(from, payload, payload_length, event)) {
      return 1;
    }
  }
  return 0;
}
