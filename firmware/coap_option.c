#include "coap_option.h"

const coap_option *coap_find_option(const coap_message *message, uint16_t number) {
  for (uint32_t i = 0; i < message->option_count; i++) {
    if (message->options[i].number == number) return &message->options[i];
  }
  return 0;
}

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

void coap_add_option(coap_message *message, uint16_t number, const uint8_t *value, uint32_t length) {
  if (message->option_count == COAP_MAX_OPTIONS) return;
  message->options[message->option_count++] = (coap_option){number, (uint16_t)length, value};
}
