/* The CLINT's mtime (10 MHz on QEMU's virt machine) is the clock. Sleeping
   uses wfi with the timer and the UART's PLIC interrupt enabled in mie but
   mstatus.MIE left off: wfi wakes on a pending interrupt without taking a
   trap, so the firmware needs no trap handler, and QEMU idles instead of
   spinning a host core. */
#include "clock.h"
#include "uart.h"

#define MTIME_LO ((volatile uint32_t *)0x0200BFF8)
#define MTIME_HI ((volatile uint32_t *)0x0200BFFC)
#define MTIMECMP_LO ((volatile uint32_t *)0x02004000)
#define MTIMECMP_HI ((volatile uint32_t *)0x02004004)
#define TICKS_PER_MS 10000u
#define PLIC ((volatile uint32_t *)0x0C000000)
#define PLIC_UART_SOURCE 10u
#define PLIC_PRIORITY(source) (PLIC + (source))
#define PLIC_ENABLE_CONTEXT0 (PLIC + 0x2000 / 4)
#define PLIC_THRESHOLD_CONTEXT0 (PLIC + 0x200000 / 4)
#define PLIC_CLAIM_CONTEXT0 (PLIC + 0x200004 / 4)
#define MIE_TIMER (1u << 7)
#define MIE_EXTERNAL (1u << 11)

/* -march=rv32imc has no Zicsr in recent binutils; enable it for these instructions only. */
#define CSR_SET(csr, bits) \
  __asm__ volatile(".option push\n.option arch, +zicsr\ncsrs " #csr ", %0\n.option pop" : : "r"(bits))

static uint64_t ticks(void) {
  uint32_t hi, lo;
  do {
    hi = *MTIME_HI;
    lo = *MTIME_LO;
  } while (hi != *MTIME_HI);
  return ((uint64_t)hi << 32) | lo;
}

void clock_init(void) {
  *PLIC_PRIORITY(PLIC_UART_SOURCE) = 1;
  *PLIC_ENABLE_CONTEXT0 = 1u << PLIC_UART_SOURCE;
  *PLIC_THRESHOLD_CONTEXT0 = 0;
  CSR_SET(mie, MIE_TIMER | MIE_EXTERNAL);
}

uint32_t clock_ms(void) { return (uint32_t)(ticks() / TICKS_PER_MS); }

void clock_sleep_until(uint32_t deadline) {
  uint32_t now = clock_ms();
  if ((int32_t)(deadline - now) <= 0 || uart_has_data()) return;
  uint64_t target = ticks() + (uint64_t)(deadline - now) * TICKS_PER_MS;
  /* Raise the high word first so no intermediate value fires early. */
  *MTIMECMP_HI = UINT32_MAX;
  *MTIMECMP_LO = (uint32_t)target;
  *MTIMECMP_HI = (uint32_t)(target >> 32);
  __asm__ volatile("wfi");
  /* Claim and complete the UART's interrupt so the PLIC can raise it again; the bytes are read by the caller. */
  uint32_t source = *PLIC_CLAIM_CONTEXT0;
  if (source != 0) *PLIC_CLAIM_CONTEXT0 = source;
}
