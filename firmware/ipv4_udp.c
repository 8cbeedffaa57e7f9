#include <string.h>
#include "coap_numbers.h"
#include "ipv4_udp.h"

#define IPV4_HEADER 20u
#define UDP_HEADER 8u
#define PROTOCOL_UDP 17
#define FLAG_MORE_FRAGMENTS 0x2000u
#define FRAGMENT_OFFSET_MASK 0x1FFFu

static uint16_t be16(const uint8_t *at) { return (uint16_t)((at[0] << 8) | at[1]); }

static void put_be16(uint8_t *at, uint32_t value) {
  at[0] = (uint8_t)(value >> 8);
  at[1] = (uint8_t)value;
}

static uint16_t header_checksum(const uint8_t *header, uint32_t length) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i < length; i += 2) sum += be16(header + i);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return (uint16_t)~sum;
}

bool ipv4_udp_parse(const uint8_t *packet, uint32_t length, udp_peer *from, const uint8_t **payload,
                    uint32_t *payload_length) {
  if (length < IPV4_HEADER || (packet[0] >> 4) != 4) return false;
  uint32_t header = (uint32_t)(packet[0] & 0x0F) * 4;
  uint32_t total = be16(packet + 2);
  if (header < IPV4_HEADER || total > length || total < header + UDP_HEADER) return false;
  if (header_checksum(packet, header) != 0 || packet[9] != PROTOCOL_UDP) return false;
  if (be16(packet + 6) & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK)) return false;
  const uint8_t *udp = packet + header;
  uint32_t udp_length = be16(udp + 4);
  if (udp_length < UDP_HEADER || udp_length > total - header) return false;
  memcpy(from->ip, packet + 12, 4);
  from->port = be16(udp);
  *payload = udp + UDP_HEADER;
  *payload_length = udp_length - UDP_HEADER;
  return true;
}

uint32_t ipv4_udp_build(udp_peer to, const uint8_t *payload, uint32_t payload_length, uint8_t *out) {
  static const uint8_t self[4] = DEVICE_IPV4;
  static uint16_t identification;
  uint32_t total = IPV4_HEADER + UDP_HEADER + payload_length;
  memset(out, 0, IPV4_HEADER + UDP_HEADER);
  out[0] = 0x45;
  put_be16(out + 2, total);
  put_be16(out + 4, identification++);
  out[8] = 64;
  out[9] = PROTOCOL_UDP;
  memcpy(out + 12, self, 4);
  memcpy(out + 16, to.ip, 4);
  put_be16(out + 10, header_checksum(out, IPV4_HEADER));
  uint8_t *udp = out + IPV4_HEADER;
  put_be16(udp, COAP_PORT);
  put_be16(udp + 2, to.port);
  put_be16(udp + 4, UDP_HEADER + payload_length);
  memcpy(udp + UDP_HEADER, payload, payload_length);
  return total;
}
