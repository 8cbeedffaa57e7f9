/* Slipmux (draft-bormann-t2trg-slipmux) over the UART: SLIP framing (RFC 1055)
   whose first byte tells the frame type. IP packets carry the CoAP traffic,
   diagnostic frames carry the device's log lines. */
#ifndef SLIPMUX_H
#define SLIPMUX_H
#include <stdint.h>

#define SLIPMUX_MAX_FRAME 1500u

/* Feeds one received byte; returns the length of a completed IP packet (copied to `packet`), else 0.
   Frames of other types, oversized frames and broken escapes are counted in `slipmux_dropped` and skipped. */
uint32_t slipmux_receive(uint8_t byte, uint8_t *packet);
void slipmux_send_packet(const uint8_t *packet, uint32_t length);
void slipmux_send_diagnostic(const char *text);
extern uint32_t slipmux_dropped;
/* clock_ms() when the last byte arrived: the host bridge sends an END byte every second as a keepalive. */
extern uint32_t slipmux_heard_at;

#endif
