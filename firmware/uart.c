/* ns16550a at 0x10000000 on QEMU's virt machine; the SiFive test device at 0x100000 powers it off. */
#include "uart.h"

#define UART_BASE ((volatile uint8_t *)0x10000000)
#define UART_THR 0
#define UART_LSR 5
#define LSR_THR_EMPTY 0x20
#define TEST_DEVICE ((volatile uint32_t *)0x100000)
#define TEST_POWER_OFF 0x5555

static void uart_putc(char c) {
  while ((UART_BASE[UART_LSR] & LSR_THR_EMPTY) == 0) {
  }
  UART_BASE[UART_THR] = (uint8_t)c;
}

void uart_puts(const char *text) {
  while (*text) uart_putc(*text++);
}

void uart_putu(uint32_t value) {
  char digits[11];
  int n = 0;
  do digits[n++] = (char)('0' + value % 10); while ((value /= 10) != 0);
  while (n > 0) uart_putc(digits[--n]);
}

void qemu_power_off(void) {
  *TEST_DEVICE = TEST_POWER_OFF;
  for (;;) {
  }
}
