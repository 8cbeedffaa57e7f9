/* The device's network layer: UDP in IPv4 packets, as they cross the slipmux link.
   No fragments, no IP options sent; the UDP checksum is left at zero, which IPv4 allows. */
#ifndef IPV4_UDP_H
#define IPV4_UDP_H
#include <stdbool.h>
#include <stdint.h>

/* The address the device calls its own on the link (the bridge does not check it). */
#define DEVICE_IPV4 {10, 0, 2, 15}

/** A UDP peer: IPv4 address and port. */
typedef struct {
  uint8_t ip[4];
  uint16_t port;
} udp_peer;

/* Finds the UDP payload of an IPv4 packet: false for anything else or anything malformed. */
bool ipv4_udp_parse(const uint8_t *packet, uint32_t length, udp_peer *from, const uint8_t **payload,
                    uint32_t *payload_length);
/* Wraps `payload` for `to` from the device's CoAP port into `out`; returns the packet length. */
uint32_t ipv4_udp_build(udp_peer to, const uint8_t *payload, uint32_t payload_length, uint8_t *out);

#endif
