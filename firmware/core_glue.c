#include <string.h>
#include "core.h"
#include "core_glue.h"
#include "layout.h"

#define ACK_TIMEOUT_MS 2000u
#define ACK_RANDOM_FACTOR_MILLI 1500u
#define MAX_RETRANSMIT 4u
/* RFC 7252 §4.8.2 EXCHANGE_LIFETIME: 247 s. */
#define EXCHANGE_LIFETIME_MS 247000u

static Z_core_instance_t core;

static uint8_t *area(uint32_t offset) { return core.w2c_memory.data + Z_coreZ_sharedBase(&core) + offset; }
static int32_t *slots(void) { return (int32_t *)area(HEADER_OFFSET); }
static uint16_t *entries(void) { return (uint16_t *)area(OPTIONS_OFFSET); }

void core_start(uint32_t retransmit_slots, uint32_t dedup_slots) {
  Z_core_init_module();
  Z_core_instantiate(&core);
  Z_coreZ_retransmitInit(&core, retransmit_slots);
  Z_coreZ_dedupInit(&core, dedup_slots);
}

void core_seed(uint32_t seed) { Z_coreZ_randomSeed(&core, seed); }

int32_t core_decode(const uint8_t *datagram, uint32_t length, coap_message *out) {
  if (length > MESSAGE_CAPACITY) return ERR_MESSAGE_TOO_LARGE;
  uint8_t *rx = area(RX_OFFSET);
  memcpy(rx, datagram, length);
  int32_t error = (int32_t)Z_coreZ_decode(&core, length);
  if (error != 0) return error;
  int32_t *slot = slots();
  if ((uint32_t)slot[SLOT_OPTION_COUNT] > COAP_MAX_OPTIONS) return -1;
  out->type = (uint8_t)slot[SLOT_TYPE];
  out->code = (uint8_t)slot[SLOT_CODE];
  out->message_id = (uint16_t)slot[SLOT_MESSAGE_ID];
  out->token_length = (uint8_t)slot[SLOT_TOKEN_LENGTH];
  memcpy(out->token, rx + 4, out->token_length);
  out->option_count = (uint8_t)slot[SLOT_OPTION_COUNT];
  for (uint32_t i = 0; i < out->option_count; i++) {
    uint16_t *entry = entries() + i * 4;
    out->options[i].number = entry[ENTRY_NUMBER / 2];
    out->options[i].value = rx + entry[ENTRY_VALUE_OFFSET / 2];
    out->options[i].length = entry[ENTRY_VALUE_LENGTH / 2];
  }
  out->payload = rx + slot[SLOT_PAYLOAD_OFFSET];
  out->payload_length = (uint32_t)slot[SLOT_PAYLOAD_LENGTH];
  return 0;
}

int32_t core_encode(const coap_message *message, uint8_t *out, uint32_t capacity) {
  uint8_t *stage = area(STAGE_OFFSET);
  uint32_t at = message->token_length;
  memcpy(stage, message->token, at);
  for (uint32_t i = 0; i < message->option_count; i++) {
    const coap_option *option = &message->options[i];
    if (at + option->length > MESSAGE_CAPACITY) return -ERR_MESSAGE_TOO_LARGE;
    uint16_t *entry = entries() + i * 4;
    entry[ENTRY_NUMBER / 2] = option->number;
    entry[ENTRY_VALUE_OFFSET / 2] = (uint16_t)at;
    entry[ENTRY_VALUE_LENGTH / 2] = option->length;
    memcpy(stage + at, option->value, option->length);
    at += option->length;
  }
  if (at + message->payload_length > MESSAGE_CAPACITY) return -ERR_MESSAGE_TOO_LARGE;
  memcpy(stage + at, message->payload, message->payload_length);
  int32_t *slot = slots();
  slot[SLOT_TYPE] = message->type;
  slot[SLOT_CODE] = message->code;
  slot[SLOT_MESSAGE_ID] = message->message_id;
  slot[SLOT_TOKEN_LENGTH] = message->token_length;
  slot[SLOT_OPTION_COUNT] = message->option_count;
  slot[SLOT_PAYLOAD_OFFSET] = (int32_t)at;
  slot[SLOT_PAYLOAD_LENGTH] = (int32_t)message->payload_length;
  int32_t length = (int32_t)Z_coreZ_encode(&core);
  if (length < 0) return length;
  if ((uint32_t)length > capacity) return -ERR_MESSAGE_TOO_LARGE;
  memcpy(out, area(TX_OFFSET), (uint32_t)length);
  return length;
}

int32_t core_schedule(uint32_t peer, uint16_t message_id, uint32_t now) {
  return (int32_t)Z_coreZ_schedule(&core, peer, message_id, now, ACK_TIMEOUT_MS, ACK_RANDOM_FACTOR_MILLI,
                                   MAX_RETRANSMIT);
}

int32_t core_acknowledge(uint32_t peer, uint16_t message_id) {
  return (int32_t)Z_coreZ_acknowledge(&core, peer, message_id);
}

int32_t core_rekey(uint32_t peer, uint16_t old_message_id, uint16_t new_message_id) {
  return (int32_t)Z_coreZ_rekey(&core, peer, old_message_id, new_message_id);
}

int core_next_deadline(uint32_t *deadline) {
  if (Z_coreZ_pendingCount(&core) == 0) return 0;
  *deadline = Z_coreZ_nextDeadline(&core);
  return 1;
}

void core_due(uint32_t now, void (*handle)(int32_t slot, core_event event)) {
  uint32_t count;
  do {
    count = Z_coreZ_due(&core, now);
    /* Copied first: a handler may schedule, and a retransmission event's slot may be reused. */
    int32_t events[EVENT_CAPACITY * 2];
    memcpy(events, area(EVENTS_OFFSET), count * EVENT_SIZE);
    for (uint32_t i = 0; i < count; i++) handle(events[i * 2], (core_event)events[i * 2 + 1]);
  } while (count == EVENT_CAPACITY);
}

int core_is_new(uint32_t peer, uint16_t message_id, uint32_t now) {
  return (int32_t)Z_coreZ_dedupCheck(&core, peer, message_id, now, EXCHANGE_LIFETIME_MS) >= 0;
}
