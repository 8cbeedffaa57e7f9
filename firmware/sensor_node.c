/* The lab's ESP32 sensor node, written against coap_simple.h the way the
   chapter's Arduino sketch uses coap-simple: callbacks per path, setup() and
   loop(). /temperature is observable (a reading every 2 s, every 5th
   notification CON); each reading also goes to the edge URI, if configured,
   as a CON PUT. */
#include <string.h>
#include "clock.h"
#include "coap_simple.h"
#include "random.h"
#include "sensor_node.h"
#include "slipmux.h"
#include "text.h"

#define READING_EVERY_MS 2000u
#define FIRMWARE_VERSION "sensor-node 0.5.0"
#define RAM_BUDGET (400u * 1024u)

extern const char CORE_WASM_SHA256[];
extern uint8_t __ram_end[];
extern uint8_t __ram_start[];

static int32_t reading_tenths = 225;
static int32_t calibration_tenths;
static int led_on;
static uint32_t readings;
static uint32_t next_reading;
static int has_edge;
static udp_peer edge;
static char edge_path[64];

static void callback_temperature(const coap_packet *packet, udp_peer ip) {
  char payload[16];
  if (packet->code == COAP_PUT) {
    /* The body is the calibration offset in °C, e.g. "-0.5". */
    if (!text_parse_tenths(packet->payload, packet->payload_length, &calibration_tenths)) {
      coap_send_response(ip, packet, COAP_BAD_REQUEST, COAP_TEXT_PLAIN, "expected an offset like -0.5", 28);
      return;
    }
    coap_send_response(ip, packet, COAP_CHANGED, COAP_NO_FORMAT, "", 0);
    return;
  }
  if (packet->code != COAP_GET) {
    coap_send_response(ip, packet, COAP_METHOD_NOT_ALLOWED, COAP_NO_FORMAT, "", 0);
    return;
  }
  text t = text_over(payload, sizeof payload);
  text_add_tenths(&t, reading_tenths + calibration_tenths);
  coap_send_response(ip, packet, COAP_CONTENT, COAP_TEXT_PLAIN, payload, t.length);
}

static void callback_led(const coap_packet *packet, udp_peer ip) {
  if (packet->code == COAP_PUT) {
    uint32_t n = packet->payload_length;
    if (n == 2 && memcmp(packet->payload, "on", 2) == 0) {
      led_on = 1;
    } else if (n == 3 && memcmp(packet->payload, "off", 3) == 0) {
      led_on = 0;
    } else {
      coap_send_response(ip, packet, COAP_BAD_REQUEST, COAP_TEXT_PLAIN, "expected on or off", 18);
      return;
    }
    coap_send_response(ip, packet, COAP_CHANGED, COAP_NO_FORMAT, "", 0);
  } else if (packet->code == COAP_POST) {
    /* A toggle, as the Deno demo site's /led has: not idempotent, so a duplicate must not run it twice. */
    led_on = !led_on;
    coap_send_response(ip, packet, COAP_CHANGED, COAP_TEXT_PLAIN, led_on ? "on" : "off", led_on ? 2 : 3);
  } else if (packet->code == COAP_GET) {
    coap_send_response(ip, packet, COAP_CONTENT, COAP_TEXT_PLAIN, led_on ? "on" : "off", led_on ? 2 : 3);
  } else {
    coap_send_response(ip, packet, COAP_METHOD_NOT_ALLOWED, COAP_NO_FORMAT, "", 0);
  }
}

static void callback_fw(const coap_packet *packet, udp_peer ip) {
  if (packet->code != COAP_GET) {
    coap_send_response(ip, packet, COAP_METHOD_NOT_ALLOWED, COAP_NO_FORMAT, "", 0);
    return;
  }
  char payload[256];
  text t = text_over(payload, sizeof payload);
  text_add(&t, "{\"firmware\":\"" FIRMWARE_VERSION "\",\"core_sha256\":\"");
  text_add(&t, CORE_WASM_SHA256);
  text_add(&t, "\",\"uptime_ms\":");
  text_add_u32(&t, clock_ms());
  /* RAM the image does not claim: budget minus data, bss (incl. WASM linear memory), stack and settings. */
  text_add(&t, ",\"free_ram_bytes\":");
  text_add_u32(&t, RAM_BUDGET - (uint32_t)(__ram_end - __ram_start) - 256u);
  text_add(&t, ",\"observers\":");
  text_add_u32(&t, coap_observer_count());
  text_add(&t, "}");
  coap_send_response(ip, packet, COAP_CONTENT, COAP_JSON, payload, t.length);
}

static void callback_discovery(const coap_packet *packet, udp_peer ip) {
  if (packet->code != COAP_GET) {
    coap_send_response(ip, packet, COAP_METHOD_NOT_ALLOWED, COAP_NO_FORMAT, "", 0);
    return;
  }
  char links[256];
  uint32_t length = coap_link_format(links, sizeof links);
  coap_send_response(ip, packet, COAP_CONTENT, COAP_LINK_FORMAT, links, length);
}

/* The edge's answer to a reading, logged so the serial console shows each PUT settled. */
static void callback_edge_response(const coap_packet *packet, udp_peer ip) {
  (void)ip;
  char line[48];
  text t = text_over(line, sizeof line);
  text_add(&t, "edge answered ");
  text_add_u32(&t, packet->code >> 5);
  text_add(&t, ".0");
  text_add_u32(&t, packet->code & 31);
  slipmux_send_diagnostic(line);
}

/* Parses "coap://A.B.C.D[:port]/path" (an IPv4 literal: the device has no resolver). */
static int parse_edge(const char *uri) {
  const char *at = uri;
  if (strncmp(at, "coap://", 7) != 0) return 0;
  at += 7;
  for (int i = 0; i < 4; i++) {
    uint32_t octet = 0, digits = 0;
    while (*at >= '0' && *at <= '9' && digits < 3) octet = octet * 10 + (uint32_t)(*at++ - '0'), digits++;
    if (digits == 0 || octet > 255 || (i < 3 && *at++ != '.')) return 0;
    edge.ip[i] = (uint8_t)octet;
  }
  edge.port = COAP_PORT;
  if (*at == ':') {
    uint32_t port = 0, digits = 0;
    for (at++; *at >= '0' && *at <= '9' && digits < 5; at++, digits++) port = port * 10 + (uint32_t)(*at - '0');
    if (digits == 0 || port == 0 || port > 65535) return 0;
    edge.port = (uint16_t)port;
  }
  if (*at == '/') at++;
  if (*at == 0 || strlen(at) >= sizeof edge_path) return 0;
  strcpy(edge_path, at);
  return 1;
}

/* A simulated sensor: a slow random walk around 22.5 °C, in 0.1 °C steps. */
static void take_reading(void) {
  int32_t step = (int32_t)(random_next() % 3) - 1;
  if (reading_tenths + step < 150 || reading_tenths + step > 300) step = -step;
  reading_tenths += step;
  readings++;
}

static void send_reading_to_edge(void) {
  char payload[64];
  text t = text_over(payload, sizeof payload);
  text_add(&t, "{\"n\":");
  text_add_u32(&t, readings);
  text_add(&t, ",\"temperature\":");
  text_add_tenths(&t, reading_tenths + calibration_tenths);
  text_add(&t, "}");
  coap_put(edge, edge_path, payload, COAP_JSON);
}

int sensor_node_setup(const char *edge_uri) {
  coap_server(callback_temperature, "temperature");
  coap_describe("temperature", "rt=\"temperature-c\";ct=0");
  coap_observable("temperature", 5);
  coap_server(callback_led, "led");
  coap_describe("led", "rt=\"light\";ct=0");
  coap_server(callback_fw, "fw");
  coap_describe("fw", "ct=50");
  coap_server(callback_discovery, ".well-known/core");
  coap_response(callback_edge_response);
  has_edge = edge_uri[0] != 0;
  if (has_edge && !parse_edge(edge_uri)) return 0;
  next_reading = clock_ms() + READING_EVERY_MS;
  return 1;
}

void sensor_node_loop(void) {
  if ((int32_t)(clock_ms() - next_reading) >= 0) {
    next_reading += READING_EVERY_MS;
    take_reading();
    coap_changed("temperature");
    if (has_edge) send_reading_to_edge();
  }
  coap_loop(next_reading);
}
