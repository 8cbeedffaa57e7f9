#include <string.h>
#include "coap_numbers.h"
#include "core.h"
#include "core_glue.h"
#include "layout.h"

static Z_core_instance_t core;

static uint8_t *area(uint32_t offset) { return core.w2c_memory.data + Z_coreZ_sharedBase(&core) + offset; }
static int32_t *slots(void) { return (int32_t *)area(HEADER_OFFSET); }
static uint16_t *entries(void) { return (uint16_t *)area(OPTIONS_OFFSET); }

void core_start(void) {
  Z_core_init_module();
  Z_core_instantiate(&core);
  Z_coreZ_messageLayerInit(&core, CORE_PEERS, CORE_SAFE_WINDOW, CORE_RECENT_NONS, CORE_STRICT_ENTRIES,
                           CORE_STRICT_PER_PEER, CORE_RETRANSMIT_SLOTS, COAP_EXCHANGE_LIFETIME_MS,
                           COAP_NON_LIFETIME_MS);
}

void core_seed(uint32_t seed) { Z_coreZ_randomSeed(&core, seed); }

/* The sender's address goes to the address area, as the Deno host writes its hostname there. */
static void stage_address(const uint8_t *address, uint32_t length, uint16_t port) {
  if (length > ADDRESS_CAPACITY) length = ADDRESS_CAPACITY;
  memcpy(area(ADDRESS_OFFSET), address, length);
  slots()[SLOT_ADDRESS_LENGTH] = (int32_t)length;
  slots()[SLOT_ADDRESS_PORT] = port;
}

void core_receive(const uint8_t *datagram, uint32_t length, const uint8_t *address, uint32_t address_length,
                  uint16_t port, uint32_t now, core_verdict *verdict) {
  stage_address(address, address_length, port);
  /* Longer than the receive area: receive() sees the length alone and reports it malformed. */
  if (length <= MESSAGE_CAPACITY) memcpy(area(RX_OFFSET), datagram, length);
  int32_t *slot = slots();
  verdict->action = (int32_t)Z_coreZ_receive(&core, length, now);
  verdict->parsed = slot[SLOT_ERROR] == ERR_NONE;
  verdict->type = length >= 1 ? (uint8_t)((datagram[0] >> 4) & 3) : 0;
  verdict->peer = slot[SLOT_PEER];
  verdict->peer_is_new = slot[SLOT_PEER_NEW] == 1;
  verdict->handle = slot[SLOT_HANDLE];
  verdict->non_handle = slot[SLOT_NON_HANDLE];
  verdict->retry_after = (uint32_t)slot[SLOT_RETRY_AFTER];
  verdict->message_id = (uint16_t)slot[SLOT_MESSAGE_ID];
}

int32_t core_message(coap_message *out) {
  int32_t *slot = slots();
  const uint8_t *rx = area(RX_OFFSET);
  uint32_t count = (uint32_t)slot[SLOT_OPTION_COUNT];
  out->type = (uint8_t)slot[SLOT_TYPE];
  out->code = (uint8_t)slot[SLOT_CODE];
  out->message_id = (uint16_t)slot[SLOT_MESSAGE_ID];
  out->token_length = (uint8_t)slot[SLOT_TOKEN_LENGTH];
  memcpy(out->token, rx + 4, out->token_length);
  out->option_count = (uint8_t)(count > COAP_MAX_OPTIONS ? COAP_MAX_OPTIONS : count);
  for (uint32_t i = 0; i < out->option_count; i++) {
    uint16_t *entry = entries() + i * 4;
    out->options[i].number = entry[ENTRY_NUMBER / 2];
    out->options[i].value = rx + entry[ENTRY_VALUE_OFFSET / 2];
    out->options[i].length = entry[ENTRY_VALUE_LENGTH / 2];
  }
  out->payload = rx + slot[SLOT_PAYLOAD_OFFSET];
  out->payload_length = (uint32_t)slot[SLOT_PAYLOAD_LENGTH];
  return count > COAP_MAX_OPTIONS ? -1 : 0;
}

int32_t core_peer_for(const uint8_t *address, uint32_t address_length, uint16_t port, uint32_t now,
                      int *is_new) {
  stage_address(address, address_length, port);
  int32_t peer = (int32_t)Z_coreZ_peerFor(&core, now);
  *is_new = slots()[SLOT_PEER_NEW] == 1;
  return peer;
}

int32_t core_allocate_message_id(int32_t peer, uint32_t now) {
  return (int32_t)Z_coreZ_allocateMessageId(&core, (uint32_t)peer, now);
}

int32_t core_schedule(int32_t peer, uint16_t message_id, uint32_t now) {
  return (int32_t)Z_coreZ_schedule(&core, (uint32_t)peer, message_id, now, COAP_ACK_TIMEOUT_MS,
                                   COAP_ACK_RANDOM_FACTOR_MILLI, COAP_MAX_RETRANSMIT);
}

int core_rekey(int32_t slot, int32_t peer, uint16_t old_message_id, uint16_t new_message_id) {
  return Z_coreZ_rekey(&core, (uint32_t)slot, (uint32_t)peer, old_message_id, new_message_id) == 1;
}

int core_cancel(int32_t slot, int32_t peer, uint16_t message_id) {
  return Z_coreZ_cancel(&core, (uint32_t)slot, (uint32_t)peer, message_id) == 1;
}

int32_t core_record_non(int32_t peer, uint16_t message_id, uint32_t now) {
  return (int32_t)Z_coreZ_recordNon(&core, (uint32_t)peer, message_id, now);
}

void core_peer_hold(int32_t peer, int32_t delta) { Z_coreZ_peerHold(&core, (uint32_t)peer, (uint32_t)delta); }

int core_next_deadline(uint32_t *deadline) {
  if (Z_coreZ_pendingCount(&core) == 0) return 0;
  *deadline = Z_coreZ_nextDeadline(&core);
  return 1;
}

uint32_t core_due(uint32_t now, int32_t *slot_out, core_event *event_out) {
  /* Each slot has one deadline, so one call reports a slot at most once: at most CORE_RETRANSMIT_SLOTS. */
  uint32_t count = Z_coreZ_due(&core, now);
  if (count > CORE_RETRANSMIT_SLOTS) count = CORE_RETRANSMIT_SLOTS;
  const int32_t *events = (const int32_t *)area(EVENTS_OFFSET);
  for (uint32_t i = 0; i < count; i++) {
    slot_out[i] = events[i * 2];
    event_out[i] = (core_event)events[i * 2 + 1];
  }
  return count;
}

int32_t core_decode(const uint8_t *datagram, uint32_t length, coap_message *out) {
  if (length > MESSAGE_CAPACITY) return ERR_MESSAGE_TOO_LARGE;
  memcpy(area(RX_OFFSET), datagram, length);
  int32_t error = (int32_t)Z_coreZ_decode(&core, length);
  if (error != 0) return error;
  return core_message(out);
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
