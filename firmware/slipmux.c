#include <string.h>
#include "clock.h"
#include "slipmux.h"
#include "uart.h"

#define END 0xC0
#define ESC 0xDB
#define ESC_END 0xDC
#define ESC_ESC 0xDD
#define DIAGNOSTIC 0x0A
/* Slipmux sorts IP packets by their version nibble: 0x40-0x7F. */
#define IS_IP(first) ((first) >= 0x40 && (first) <= 0x7F)

static uint8_t frame[SLIPMUX_MAX_FRAME];
static uint32_t length;
static int escaped;
/* Set when the current frame went wrong; the rest of it is skipped up to the next END. */
static int broken;
uint32_t slipmux_dropped;
uint32_t slipmux_heard_at;

uint32_t slipmux_receive(uint8_t byte, uint8_t *packet) {
  slipmux_heard_at = clock_ms();
  if (byte == END) {
    uint32_t complete = length;
    int keep = !broken && !escaped && complete > 0 && IS_IP(frame[0]);
    if (complete > 0 && !keep) slipmux_dropped++;
    length = 0;
    escaped = 0;
    broken = 0;
    if (!keep) return 0;
    memcpy(packet, frame, complete);
    return complete;
  }
  if (broken) return 0;
  if (escaped) {
    escaped = 0;
    if (byte != ESC_END && byte != ESC_ESC) {
      broken = 1;
      return 0;
    }
    byte = byte == ESC_END ? END : ESC;
  } else if (byte == ESC) {
    escaped = 1;
    return 0;
  }
  if (length == SLIPMUX_MAX_FRAME) {
    broken = 1;
    return 0;
  }
  frame[length++] = byte;
  return 0;
}

static void send_frame(uint8_t type, const uint8_t *bytes, uint32_t count) {
  uint8_t out[2 * SLIPMUX_MAX_FRAME + 4];
  uint32_t n = 0;
  /* A leading END flushes any line noise the receiver holds (RFC 1055). */
  out[n++] = END;
  if (type != 0) out[n++] = type;
  for (uint32_t i = 0; i < count && i < SLIPMUX_MAX_FRAME; i++) {
    if (bytes[i] == END) {
      out[n++] = ESC;
      out[n++] = ESC_END;
    } else if (bytes[i] == ESC) {
      out[n++] = ESC;
      out[n++] = ESC_ESC;
    } else {
      out[n++] = bytes[i];
    }
  }
  out[n++] = END;
  uart_write(out, n);
}

void slipmux_send_packet(const uint8_t *packet, uint32_t count) { send_frame(0, packet, count); }

void slipmux_send_diagnostic(const char *text) { send_frame(DIAGNOSTIC, (const uint8_t *)text, strlen(text)); }
