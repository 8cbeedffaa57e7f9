#include "text.h"

text text_over(char *buffer, uint32_t capacity) {
  buffer[0] = 0;
  return (text){buffer, 0, capacity};
}

static void add_char(text *t, char c) {
  if (t->length + 1 >= t->capacity) return;
  t->data[t->length++] = c;
  t->data[t->length] = 0;
}

void text_add(text *t, const char *s) {
  while (*s) add_char(t, *s++);
}

void text_add_u32(text *t, uint32_t value) {
  char digits[10];
  int n = 0;
  do digits[n++] = (char)('0' + value % 10); while ((value /= 10) != 0);
  while (n > 0) add_char(t, digits[--n]);
}

void text_add_hex(text *t, const uint8_t *bytes, uint32_t length) {
  static const char HEX[] = "0123456789abcdef";
  for (uint32_t i = 0; i < length; i++) {
    add_char(t, HEX[bytes[i] >> 4]);
    add_char(t, HEX[bytes[i] & 15]);
  }
}

void text_add_tenths(text *t, int32_t tenths) {
  if (tenths < 0) add_char(t, '-');
  uint32_t magnitude = tenths < 0 ? (uint32_t)-tenths : (uint32_t)tenths;
  text_add_u32(t, magnitude / 10);
  add_char(t, '.');
  add_char(t, (char)('0' + magnitude % 10));
}

int text_parse_tenths(const uint8_t *s, uint32_t length, int32_t *tenths) {
  uint32_t i = 0;
  int negative = 0;
  if (i < length && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  int32_t whole = 0, digits = 0, fraction = 0;
  for (; i < length && s[i] >= '0' && s[i] <= '9' && digits < 6; i++, digits++) whole = whole * 10 + (s[i] - '0');
  if (digits == 0) return 0;
  if (i < length && s[i] == '.') {
    if (++i >= length || s[i] < '0' || s[i] > '9') return 0;
    fraction = s[i++] - '0';
  }
  if (i != length) return 0;
  *tenths = (negative ? -1 : 1) * (whole * 10 + fraction);
  return 1;
}

/* Continuation bytes 10xxxxxx. */
static int continuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

int text_is_utf8(const uint8_t *s, uint32_t length) {
  uint32_t i = 0;
  while (i < length) {
    uint8_t first = s[i];
    uint32_t more;
    /* The second byte's range, narrower after E0, ED, F0 and F4: no overlong forms, surrogates or code
       points past U+10FFFF (RFC 3629 §4). */
    uint8_t low = 0x80, high = 0xBF;
    if (first < 0x80) {
      more = 0;
    } else if (first >= 0xC2 && first <= 0xDF) {
      more = 1;
    } else if (first >= 0xE0 && first <= 0xEF) {
      more = 2;
      if (first == 0xE0) low = 0xA0;
      if (first == 0xED) high = 0x9F;
    } else if (first >= 0xF0 && first <= 0xF4) {
      more = 3;
      if (first == 0xF0) low = 0x90;
      if (first == 0xF4) high = 0x8F;
    } else {
      return 0;
    }
    if (length - i - 1 < more) return 0;
    if (more > 0 && (s[i + 1] < low || s[i + 1] > high)) return 0;
    for (uint32_t k = 2; k <= more; k++) {
      if (!continuation(s[i + k])) return 0;
    }
    i += 1 + more;
  }
  return 1;
}
