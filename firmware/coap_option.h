/* Reading and writing option values of a coap_message (RFC 7252 §3.2 formats). */
#ifndef COAP_OPTION_H
#define COAP_OPTION_H
#include <stdint.h>
#include "core_glue.h"

/* The first option `number` in `message`, or 0 when absent. */
const coap_option *coap_find_option(const coap_message *message, uint16_t number);
/* A uint option's value (at most 4 bytes are read). */
uint32_t coap_uint_value(const coap_option *option);
/* Writes `value` as a minimal big-endian uint option value; returns its length (0-4). */
uint32_t coap_uint_bytes(uint32_t value, uint8_t *out);
/* Appends an option, if there is room; the value must stay valid until the message is encoded. */
void coap_add_option(coap_message *message, uint16_t number, const uint8_t *value, uint32_t length);

#endif
