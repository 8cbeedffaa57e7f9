/* The firmware's side of the WASM boundary: the wasm2c-translated core.wasm
   behind plain C calls, with the same shared-memory conventions as the Deno
   host (src/core). Codec, deduplication and retransmission scheduling all
   happen in the core. */
#ifndef CORE_GLUE_H
#define CORE_GLUE_H
#include <stdint.h>

#define COAP_MAX_OPTIONS 24u
#define COAP_MAX_DATAGRAM 1152u

typedef struct {
  uint16_t number;
  uint16_t length;
  const uint8_t *value;
} coap_option;

/* A CoAP message. After core_decode, option values and the payload point into the core's receive area
   and stay valid until the next core_decode. */
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

typedef enum { CORE_RETRANSMIT = 1, CORE_GIVE_UP = 2 } core_event;

void core_start(uint32_t retransmit_slots, uint32_t dedup_slots);
/* Seeds the core's random source (the initial retransmission timeouts). */
void core_seed(uint32_t seed);
/* 0, or the core's format error (layout.h ERR_*), or -1 for more options than COAP_MAX_OPTIONS. */
int32_t core_decode(const uint8_t *datagram, uint32_t length, coap_message *out);
/* Encodes into `out`; the length, or a negative error. */
int32_t core_encode(const coap_message *message, uint8_t *out, uint32_t capacity);
/* RFC 7252 §4.8 defaults: ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4. Slot, or < 0. */
int32_t core_schedule(uint32_t peer, uint16_t message_id, uint32_t now);
/* The slot an ACK or RST settled, or -1. */
int32_t core_acknowledge(uint32_t peer, uint16_t message_id);
int32_t core_rekey(uint32_t peer, uint16_t old_message_id, uint16_t new_message_id);
/* Whether anything is outstanding; if so, its earliest deadline in ms. */
int core_next_deadline(uint32_t *deadline);
/* Calls `handle` for each retransmission or give-up due by `now`. */
void core_due(uint32_t now, void (*handle)(int32_t slot, core_event event));
/* 1 for a new (peer, MID), 0 for a duplicate within EXCHANGE_LIFETIME. */
int core_is_new(uint32_t peer, uint16_t message_id, uint32_t now);

#endif
