/* The firmware's side of the WASM boundary: the wasm2c-translated core.wasm
   behind plain C calls, with the same shared-memory conventions as the Deno
   host (src/core). The core decodes and encodes, and makes every message-layer
   decision (RFC 7252 §4): peers, duplicate detection, Message IDs, recent
   NONs and the retransmission schedule. */
#ifndef CORE_GLUE_H
#define CORE_GLUE_H
#include <stdint.h>

/* The device's table sizes (the Deno server's are in src/server/server.ts). */
#define CORE_PEERS 16u
#define CORE_SAFE_WINDOW 4u
#define CORE_RECENT_NONS 4u
#define CORE_STRICT_ENTRIES 32u
#define CORE_STRICT_PER_PEER 16u
#define CORE_RETRANSMIT_SLOTS 32u
/* Dedup handles: the safe windows' first, then the strict entries' (message_layer.ts receive()). */
#define CORE_DEDUP_HANDLES (CORE_PEERS * CORE_SAFE_WINDOW + CORE_STRICT_ENTRIES)
#define CORE_NON_HANDLES (CORE_PEERS * CORE_RECENT_NONS)

#define COAP_MAX_OPTIONS 24u
#define COAP_MAX_DATAGRAM 1152u

typedef struct {
  uint16_t number;
  uint16_t length;
  const uint8_t *value;
} coap_option;

/* A CoAP message. After core_receive or core_decode, option values and the payload point into the core's
   receive area and stay valid until the next of those calls. */
typedef struct {
  uint8_t type;
  uint8_t code;
  uint16_t message_id;
  uint8_t token_length;
  uint8_t token[8];
  uint8_t option_count;
  coap_option options[COAP_MAX_OPTIONS];
  const uint8_t *payload;
  uint32_t payload_length;
} coap_message;

/* What the core decided about a received datagram (layout.h ACTION_* and the slots that go with it). */
typedef struct {
  int32_t action;
  /* Whether the datagram parsed; if so, core_message() gives it. */
  int parsed;
  /* The datagram's type and Message ID (read from its header even when it did not parse). */
  uint8_t type;
  uint16_t message_id;
  int32_t peer;
  int peer_is_new;
  int32_t handle;
  int32_t non_handle;
  uint32_t retry_after;
} core_verdict;

typedef enum { CORE_RETRANSMIT = 1, CORE_GIVE_UP = 2 } core_event;

/* Sizes the core's tables for the device and sets the §4.8.2 lifetimes; call once. */
void core_start(void);
/* Seeds the core's random source (initial retransmission timeouts, first Message IDs of new peers). */
void core_seed(uint32_t seed);
/* Hands a datagram from `address` (opaque bytes: the IPv4 address) and `port` to the core's receive(). */
void core_receive(const uint8_t *datagram, uint32_t length, const uint8_t *address, uint32_t address_length,
                  uint16_t port, uint32_t now, core_verdict *verdict);
/* The message core_receive parsed: 0, or -1 when it has more options than COAP_MAX_OPTIONS (the first ones
   are given). */
int32_t core_message(coap_message *out);
/* The peer entry for an address, added if new (`*is_new` then 1); -1 when every entry is pinned. */
int32_t core_peer_for(const uint8_t *address, uint32_t address_length, uint16_t port, uint32_t now,
                      int *is_new);
/* A free Message ID for a new CON or NON to `peer` (RFC 7252 §4.4), or -1. */
int32_t core_allocate_message_id(int32_t peer, uint32_t now);
/* Tracks a CON just sent with the §4.8 defaults; its retransmit slot, or < 0 (table full). */
int32_t core_schedule(int32_t peer, uint16_t message_id, uint32_t now);
/* RFC 7641 §4.5.2: the CON in `slot` continues under a new Message ID. 1, or 0 if it is no longer there. */
int core_rekey(int32_t slot, int32_t peer, uint16_t old_message_id, uint16_t new_message_id);
/* Stops retransmitting the CON in `slot`; 1 if it was outstanding. */
int core_cancel(int32_t slot, int32_t peer, uint16_t message_id);
/* Remembers a NON just sent; the recent-NON handle an RST to it will report, or -1. */
int32_t core_record_non(int32_t peer, uint16_t message_id, uint32_t now);
/* Pins (+1) or unpins (-1) a peer entry while state above the core lives on it. */
void core_peer_hold(int32_t peer, int32_t delta);
/* Whether anything is outstanding; if so, its earliest deadline in ms. */
int core_next_deadline(uint32_t *deadline);
/* Runs the deadlines due by `now`: fills `slots`/`events` (capacity CORE_RETRANSMIT_SLOTS); how many. */
uint32_t core_due(uint32_t now, int32_t *slots, core_event *events);
/* Decodes without the message layer (the boot self-test): 0, the core's format error, or -1 (options). */
int32_t core_decode(const uint8_t *datagram, uint32_t length, coap_message *out);
/* Encodes into `out`; the length, or a negative error. */
int32_t core_encode(const coap_message *message, uint8_t *out, uint32_t capacity);

#endif
