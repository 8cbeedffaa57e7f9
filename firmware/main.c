/* Boot of the emulated device: start the HAL and the wasm2c-translated core,
   prove on the device that the core decodes, re-encodes and schedules as on
   the Deno side, then run the sensor node. Log lines go out as slipmux
   diagnostic frames; CoAP goes out as IPv4/UDP packets on the same link. */
#include <setjmp.h>
#include <string.h>
#include "clock.h"
#include "coap_simple.h"
#include "device_config.h"
#include "random.h"
#include "sensor_node.h"
#include "slipmux.h"
#include "text.h"
#include "uart.h"
#include "wasm_rt_static.h"

extern const char CORE_WASM_SHA256[];

/* Ten missed keepalives. */
#define HOST_SILENCE_MS 10000u

/* The lab chapter's GET /temperature: CON, MID 0x1234, token abcd1234, Uri-Path "temperature". */
static const uint8_t LAB_GET[] = {0x44, 0x01, 0x12, 0x34, 0xab, 0xcd, 0x12, 0x34, 0xbb, 't', 'e',
                                  'm',  'p',  'e',  'r',  'a',  't',  'u',  'r',  'e'};

static void diagnostic(const char *what, const char *value) {
  char line[128];
  text t = text_over(line, sizeof line);
  text_add(&t, what);
  text_add(&t, value);
  slipmux_send_diagnostic(line);
}

/* Decodes LAB_GET, re-encodes it and schedules a CON with seed 1234: the Deno side checks every line. Runs
   before the first datagram, on the core the device then uses. */
static void self_test(void) {
  char line[128];
  coap_message message;
  int32_t error = core_decode(LAB_GET, sizeof LAB_GET, &message);
  text t = text_over(line, sizeof line);
  text_add(&t, "selftest decode error ");
  text_add_u32(&t, (uint32_t)error);
  text_add(&t, " type ");
  text_add_u32(&t, message.type);
  text_add(&t, " code ");
  text_add_u32(&t, message.code);
  text_add(&t, " mid ");
  text_add_u32(&t, message.message_id);
  text_add(&t, " options ");
  text_add_u32(&t, message.option_count);
  slipmux_send_diagnostic(line);
  uint8_t out[sizeof LAB_GET + 8];
  int32_t length = core_encode(&message, out, sizeof out);
  int same = length == (int32_t)sizeof LAB_GET && memcmp(out, LAB_GET, sizeof LAB_GET) == 0;
  slipmux_send_diagnostic(same ? "selftest roundtrip identical" : "selftest roundtrip DIFFERENT");
  /* Seed 1234, a fixed address (0.0.0.0:0, never a real peer's) that takes the fresh table's entry 0, MID
     0x1234 at time 0: tests/device_test.ts computes the same with Deno's MessageLayerCore. The CON is
     cancelled right away, and nothing pins the entry afterwards. */
  static const uint8_t SELF_TEST_ADDRESS[4] = {0, 0, 0, 0};
  core_seed(1234);
  int is_new = 0;
  int32_t peer = core_peer_for(SELF_TEST_ADDRESS, sizeof SELF_TEST_ADDRESS, 0, 0, &is_new);
  int32_t slot = core_schedule(peer, 0x1234, 0);
  uint32_t deadline = 0;
  core_next_deadline(&deadline);
  core_cancel(slot, peer, 0x1234);
  t = text_over(line, sizeof line);
  text_add(&t, "selftest peer ");
  text_add_u32(&t, (uint32_t)peer);
  text_add(&t, " first deadline ");
  text_add_u32(&t, deadline);
  slipmux_send_diagnostic(line);
}

static uint32_t parse_u32(const char *s) {
  uint32_t value = 0;
  while (*s >= '0' && *s <= '9') value = value * 10 + (uint32_t)(*s++ - '0');
  return value;
}

static void __attribute__((noreturn)) run(uint32_t seed, const char *edge) {
  jmp_buf trapped;
  core_trap_target = &trapped;
  int trap = setjmp(trapped);
  if (trap != 0) {
    char number[12];
    text t = text_over(number, sizeof number);
    text_add_u32(&t, (uint32_t)trap);
    /* The core's state may be half-updated; a real node would reboot, and so does this one. */
    diagnostic("core trapped, powering off: ", number);
    qemu_power_off();
  }
  random_seed(seed);
  coap_start(seed);
  diagnostic("device boot core.wasm sha256 ", CORE_WASM_SHA256);
  self_test();
  core_seed(seed);
  if (!sensor_node_setup(edge)) {
    diagnostic("error: unusable edge URI (expected coap://A.B.C.D[:PORT]/path): ", edge);
    qemu_power_off();
  }
  diagnostic("device ready, edge ", edge[0] ? edge : "none");
  slipmux_heard_at = clock_ms();
  for (;;) {
    sensor_node_loop();
    /* The host is gone (its bridge keeps the link alive every second): power off rather than run orphaned. */
    if (clock_ms() - slipmux_heard_at > HOST_SILENCE_MS) {
      slipmux_send_diagnostic("host link silent, powering off");
      qemu_power_off();
    }
  }
}

int main(void) {
  uart_init();
  clock_init();
  char seed_text[16];
  static char edge[96];
  uint32_t seed = device_config("seed", seed_text, sizeof seed_text) > 0 ? parse_u32(seed_text) : clock_ms();
  if (device_config("edge", edge, sizeof edge) < 0) edge[0] = 0;
  run(seed, edge);
}
