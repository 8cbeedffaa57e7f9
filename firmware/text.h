/* Building short texts without printf: payloads and log lines. */
#ifndef TEXT_H
#define TEXT_H
#include <stdint.h>

typedef struct {
  char *data;
  uint32_t length;
  uint32_t capacity;
} text;

/* An empty text over `buffer`; appends past `capacity - 1` are cut, and the text stays NUL-terminated. */
text text_over(char *buffer, uint32_t capacity);
void text_add(text *t, const char *s);
void text_add_u32(text *t, uint32_t value);
void text_add_hex(text *t, const uint8_t *bytes, uint32_t length);
/* A value in tenths as a decimal with one digit after the point: -15 → "-1.5". */
void text_add_tenths(text *t, int32_t tenths);
/* Parses "[-+]D[.D]" into tenths; 0 when malformed, else 1. */
int text_parse_tenths(const uint8_t *s, uint32_t length, int32_t *tenths);
/* Whether the bytes are well-formed UTF-8 (as a strict decoder, such as Deno's TextDecoder with fatal, reads
   them). */
int text_is_utf8(const uint8_t *s, uint32_t length);

#endif
