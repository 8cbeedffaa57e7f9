/* Boot of the emulated device: instantiate the wasm2c translation of
   core.wasm, report which core it is (SHA-256 of the .wasm), and check on the
   device that it decodes, re-encodes and schedules exactly as on the Deno
   side. The CoAP application over SLIP builds on this (issue 5). */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include "core.h"
#include "layout.h"
#include "uart.h"
#include "wasm_rt_static.h"

extern const char CORE_WASM_SHA256[];

static Z_core_instance_t core;

/* The lab chapter's GET /temperature: CON, MID 0x1234, token abcd1234, Uri-Path "temperature". */
static const uint8_t LAB_GET[] = {0x44, 0x01, 0x12, 0x34, 0xab, 0xcd, 0x12, 0x34, 0xbb, 't', 'e',
                                  'm',  'p',  'e',  'r',  'a',  't',  'u',  'r',  'e'};

static int32_t *slots(void) { return (int32_t *)(core.w2c_memory.data + Z_coreZ_sharedBase(&core) + HEADER_OFFSET); }
static uint8_t *area(uint32_t offset) { return core.w2c_memory.data + Z_coreZ_sharedBase(&core) + offset; }

/* Decodes LAB_GET, stages what the index describes, encodes it and compares: 0 when identical. */
static int round_trip(void) {
  memcpy(area(RX_OFFSET), LAB_GET, sizeof LAB_GET);
  uint32_t error = Z_coreZ_decode(&core, sizeof LAB_GET);
  int32_t *slot = slots();
  uart_puts("selftest decode error ");
  uart_putu(error);
  uart_puts(" type ");
  uart_putu(slot[SLOT_TYPE]);
  uart_puts(" code ");
  uart_putu(slot[SLOT_CODE]);
  uart_puts(" mid ");
  uart_putu(slot[SLOT_MESSAGE_ID]);
  uart_puts(" options ");
  uart_putu(slot[SLOT_OPTION_COUNT]);
  uart_puts("\n");
  uint8_t *rx = area(RX_OFFSET), *stage = area(STAGE_OFFSET);
  uint32_t at = slot[SLOT_TOKEN_LENGTH];
  memcpy(stage, rx + 4, at);
  uint16_t *entries = (uint16_t *)area(OPTIONS_OFFSET);
  for (int32_t i = 0; i < slot[SLOT_OPTION_COUNT]; i++) {
    uint16_t *entry = entries + i * 4;
    memcpy(stage + at, rx + entry[2], entry[3]);
    entry[2] = (uint16_t)at;
    at += entry[3];
  }
  memcpy(stage + at, rx + slot[SLOT_PAYLOAD_OFFSET], slot[SLOT_PAYLOAD_LENGTH]);
  slot[SLOT_PAYLOAD_OFFSET] = (int32_t)at;
  int32_t length = (int32_t)Z_coreZ_encode(&core);
  return length != (int32_t)sizeof LAB_GET || memcmp(area(TX_OFFSET), LAB_GET, sizeof LAB_GET) != 0;
}

int main(void) {
  jmp_buf trapped;
  core_trap_target = &trapped;
  int trap = setjmp(trapped);
  if (trap != 0) {
    uart_puts("core trapped: ");
    uart_putu((uint32_t)trap);
    uart_puts("\n");
    qemu_power_off();
  }
  Z_core_init_module();
  Z_core_instantiate(&core);
  Z_coreZ_retransmitInit(&core, 32);
  Z_coreZ_dedupInit(&core, 64);
  uart_puts("device boot core.wasm sha256 ");
  uart_puts(CORE_WASM_SHA256);
  uart_puts("\n");
  uart_puts(round_trip() == 0 ? "selftest roundtrip identical\n" : "selftest roundtrip DIFFERENT\n");
  /* Seed 1234, ACK_TIMEOUT 2000 ms, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4, sent at t = 0. */
  Z_coreZ_randomSeed(&core, 1234);
  Z_coreZ_schedule(&core, 1, 0x1234, 0, 2000, 1500, 4);
  uart_puts("selftest first deadline ");
  uart_putu(Z_coreZ_nextDeadline(&core));
  uart_puts(" linear memory pages ");
  uart_putu(core.w2c_memory.pages);
  uart_puts("\n");
  qemu_power_off();
}
