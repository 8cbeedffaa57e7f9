/* The message layer: everything that knows Message IDs. Requests and
   responses are handed up to coap_simple.c and coap_client.c, which know
   tokens. */
#include <string.h>
#include "clock.h"
#include "coap_link.h"
#include "random.h"
#include "slipmux.h"
#include "text.h"
#include "uart.h"

#define MAX_PEERS 16u
#define RETRANSMIT_SLOTS 32u
#define DEDUP_SLOTS 64u
#define REPLY_CACHE 8u

typedef struct {
  udp_peer address;
  uint32_t last_used;
  /* Bumped when the entry goes to a new peer, so the core's dedup and retransmission keys of the old one
     (which live up to EXCHANGE_LIFETIME) never match the newcomer. */
  uint32_t generation;
} peer_entry;

/* A CON in flight, kept by the core's slot number for retransmission. */
typedef struct {
  outgoing_kind kind;
  uint8_t peer;
  uint8_t owner;
  uint16_t mid;
  uint16_t length;
  uint8_t bytes[STORED_MESSAGE];
} outgoing;

typedef struct {
  uint8_t peer;
  uint16_t mid;
  uint16_t length;
  uint8_t bytes[STORED_MESSAGE];
} cached_reply;

static peer_entry peers[MAX_PEERS];
static outgoing in_flight[RETRANSMIT_SLOTS];
static cached_reply replies[REPLY_CACHE];
static uint32_t reply_next;
static uint16_t next_mid;
static uint8_t packet_out[SLIPMUX_MAX_FRAME];

void link_log(const char *what, uint32_t value) {
  char buffer[96];
  text t = text_over(buffer, sizeof buffer);
  text_add(&t, what);
  text_add_u32(&t, value);
  slipmux_send_diagnostic(buffer);
}

uint16_t link_new_mid(void) { return next_mid++; }

udp_peer link_address(uint8_t peer) { return peers[peer].address; }

void link_send(uint8_t peer, const uint8_t *bytes, uint32_t length) {
  uint32_t packet_length = ipv4_udp_build(peers[peer].address, bytes, length, packet_out);
  slipmux_send_packet(packet_out, packet_length);
}

void link_send_empty(uint8_t peer, uint8_t type, uint16_t mid) {
  uint8_t bytes[4] = {(uint8_t)(0x40 | (type << 4)), 0, (uint8_t)(mid >> 8), (uint8_t)mid};
  link_send(peer, bytes, sizeof bytes);
}

static int peer_in_use(uint8_t index) {
  for (uint32_t i = 0; i < RETRANSMIT_SLOTS; i++) {
    if (in_flight[i].kind != OUT_FREE && in_flight[i].peer == index) return 1;
  }
  return server_uses_peer(index) || client_uses_peer(index);
}

/* A new peer takes the least recently used entry nothing refers to any more. */
uint8_t link_peer(udp_peer address) {
  int oldest = -1;
  for (uint32_t i = 0; i < MAX_PEERS; i++) {
    if (peers[i].address.port == address.port && memcmp(peers[i].address.ip, address.ip, 4) == 0) {
      peers[i].last_used = clock_ms();
      return (uint8_t)i;
    }
  }
  for (uint32_t i = 0; i < MAX_PEERS; i++) {
    if (peers[i].address.port == 0) {
      oldest = (int)i;
      break;
    }
    if (peer_in_use((uint8_t)i)) continue;
    if (oldest < 0 || (int32_t)(peers[i].last_used - peers[oldest].last_used) < 0) oldest = (int)i;
  }
  if (oldest < 0) return NO_PEER;
  if (peers[oldest].address.port != 0) peers[oldest].generation++;
  for (uint32_t i = 0; i < REPLY_CACHE; i++) {
    if (replies[i].peer == (uint8_t)oldest) replies[i].length = 0;
  }
  peers[oldest].address = address;
  peers[oldest].last_used = clock_ms();
  return (uint8_t)oldest;
}

/* The number the core knows a peer entry by: never 0 (the boot self-test's), and new for each occupant. */
static uint32_t core_peer(uint8_t index) { return (peers[index].generation << 8) + index + 1u; }

uint32_t coap_uint_value(const coap_option *option) {
  uint32_t value = 0;
  for (uint32_t i = 0; i < option->length && i < 4; i++) value = (value << 8) | option->value[i];
  return value;
}

uint32_t coap_uint_bytes(uint32_t value, uint8_t *out) {
  uint32_t length = value > 0xFFFFFF ? 4 : value > 0xFFFF ? 3 : value > 0xFF ? 2 : value > 0 ? 1 : 0;
  for (uint32_t i = 0; i < length; i++) out[i] = (uint8_t)(value >> (8 * (length - 1 - i)));
  return length;
}

const coap_option *coap_find_option(const coap_packet *packet, uint16_t number) {
  for (uint32_t i = 0; i < packet->option_count; i++) {
    if (packet->options[i].number == number) return &packet->options[i];
  }
  return 0;
}

void link_cache_reply(uint8_t peer, uint16_t mid, const uint8_t *bytes, uint32_t length) {
  if (length > STORED_MESSAGE) return;
  cached_reply *slot = &replies[reply_next++ % REPLY_CACHE];
  slot->peer = peer;
  slot->mid = mid;
  slot->length = (uint16_t)length;
  memcpy(slot->bytes, bytes, length);
}

static const cached_reply *find_reply(uint8_t peer, uint16_t mid) {
  for (uint32_t i = 0; i < REPLY_CACHE; i++) {
    if (replies[i].length > 0 && replies[i].peer == peer && replies[i].mid == mid) return &replies[i];
  }
  return 0;
}

static void keep(int32_t slot, uint8_t peer, uint16_t mid, const uint8_t *bytes, uint32_t length) {
  outgoing *entry = &in_flight[slot];
  entry->peer = peer;
  entry->mid = mid;
  entry->length = (uint16_t)length;
  memcpy(entry->bytes, bytes, length);
}

int link_track(uint8_t peer, uint16_t mid, outgoing_kind kind, uint8_t owner, const uint8_t *bytes,
               uint32_t length) {
  if (length > STORED_MESSAGE) return 0;
  int32_t slot = core_schedule(core_peer(peer), mid, clock_ms());
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS) return 0;
  in_flight[slot].kind = kind;
  in_flight[slot].owner = owner;
  keep(slot, peer, mid, bytes, length);
  return 1;
}

int link_retrack(uint8_t peer, uint16_t old_mid, uint16_t new_mid, const uint8_t *bytes, uint32_t length) {
  if (length > STORED_MESSAGE) return 0;
  int32_t slot = core_rekey(core_peer(peer), old_mid, new_mid);
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS) return 0;
  keep(slot, peer, new_mid, bytes, length);
  return 1;
}

void link_cancel(uint8_t peer, uint16_t mid) {
  int32_t slot = core_acknowledge(core_peer(peer), mid);
  if (slot >= 0 && slot < (int32_t)RETRANSMIT_SLOTS) in_flight[slot].kind = OUT_FREE;
}

/* An ACK or RST: it settles one of our CONs, or (an RST) rejects a NON notification. */
static void settle(uint8_t peer_index, const coap_packet *packet, udp_peer peer) {
  int32_t slot = core_acknowledge(core_peer(peer_index), packet->message_id);
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS || in_flight[slot].kind == OUT_FREE) {
    if (packet->type == COAP_RESET) server_reset(peer_index, packet->message_id);
    return;
  }
  outgoing *entry = &in_flight[slot];
  outgoing_kind kind = entry->kind;
  entry->kind = OUT_FREE;
  if (kind == OUT_NOTIFICATION) {
    server_notification_settled(entry->owner, packet->type == COAP_RESET);
  } else {
    client_settled(entry->mid, packet, peer);
  }
}

static void handle_datagram(udp_peer peer, const uint8_t *bytes, uint32_t length) {
  uint8_t peer_index = link_peer(peer);
  if (peer_index == NO_PEER) {
    link_log("datagram dropped: every peer entry is in use, port ", peer.port);
    return;
  }
  coap_packet packet;
  int32_t error = core_decode(bytes, length, &packet);
  if (error != 0) {
    /* RFC 7252 §4.2/§4.3: a malformed CON is rejected with RST; anything else malformed is ignored. */
    if (length >= 4 && (bytes[0] >> 6) == 1 && ((bytes[0] >> 4) & 3) == COAP_CON) {
      link_send_empty(peer_index, COAP_RESET, (uint16_t)((bytes[2] << 8) | bytes[3]));
    }
    link_log("malformed datagram, error ", (uint32_t)error);
    return;
  }
  if (packet.type == COAP_ACK || packet.type == COAP_RESET) {
    settle(peer_index, &packet, peer);
    return;
  }
  if (packet.code == 0) {
    /* A CON ping (RFC 7252 §4.3) is answered with RST. */
    if (packet.type == COAP_CON) link_send_empty(peer_index, COAP_RESET, packet.message_id);
    return;
  }
  if (!core_is_new(core_peer(peer_index), packet.message_id, clock_ms())) {
    const cached_reply *reply = find_reply(peer_index, packet.message_id);
    if (reply) {
      link_send(peer_index, reply->bytes, reply->length);
    } else if (packet.type == COAP_CON) {
      link_send_empty(peer_index, COAP_ACK, packet.message_id);
    }
    return;
  }
  if (packet.code >= 64) {
    client_response(peer_index, &packet, peer);
  } else if (packet.code <= 31) {
    server_request(peer, peer_index, &packet);
  } else if (packet.type == COAP_CON) {
    link_send_empty(peer_index, COAP_RESET, packet.message_id);
  }
}

static void on_retransmission(int32_t slot, core_event event) {
  if (slot < 0 || slot >= (int32_t)RETRANSMIT_SLOTS || in_flight[slot].kind == OUT_FREE) return;
  outgoing *entry = &in_flight[slot];
  if (event == CORE_RETRANSMIT) {
    link_log("retransmit mid ", entry->mid);
    link_send(entry->peer, entry->bytes, entry->length);
    return;
  }
  outgoing_kind kind = entry->kind;
  entry->kind = OUT_FREE;
  if (kind == OUT_NOTIFICATION) {
    server_notification_lost(entry->owner);
  } else {
    client_lost(entry->mid);
  }
}

void coap_start(uint32_t seed) {
  core_start(RETRANSMIT_SLOTS, DEDUP_SLOTS);
  core_seed(seed);
  next_mid = (uint16_t)random_next();
}

void coap_loop(uint32_t wake_at) {
  static uint8_t packet_in[SLIPMUX_MAX_FRAME];
  int byte;
  while ((byte = uart_read()) >= 0) {
    uint32_t length = slipmux_receive((uint8_t)byte, packet_in);
    udp_peer from;
    const uint8_t *payload;
    uint32_t payload_length;
    if (length > 0 && ipv4_udp_parse(packet_in, length, &from, &payload, &payload_length)) {
      handle_datagram(from, payload, payload_length);
    }
  }
  core_due(clock_ms(), on_retransmission);
  uint32_t deadline;
  if (core_next_deadline(&deadline) && (int32_t)(deadline - wake_at) < 0) wake_at = deadline;
  clock_sleep_until(wake_at);
}
