/* ns16550a at 0x10000000 on QEMU's virt machine; the SiFive test device at 0x100000 powers it off. */
#include "uart.h"

#define UART_BASE ((volatile uint8_t *)0x10000000)
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LSR 5
#define IER_RX_AVAILABLE 0x01
#define FCR_ENABLE_AND_CLEAR 0x07
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define TEST_DEVICE ((volatile uint32_t *)0x100000)
#define TEST_POWER_OFF 0x5555

void uart_init(void) {
  UART_BASE[UART_FCR] = FCR_ENABLE_AND_CLEAR;
  UART_BASE[UART_IER] = IER_RX_AVAILABLE;
}

void uart_write(const uint8_t *bytes, uint32_t length) {
  for (uint32_t i = 0; i < length; i++) {
    while ((UART_BASE[UART_LSR] & LSR_THR_EMPTY) == 0) {
    }
    UART_BASE[UART_THR] = bytes[i];
  }
}

bool uart_has_data(void) { return (UART_BASE[UART_LSR] & LSR_DATA_READY) != 0; }

int uart_read(void) { return uart_has_data() ? UART_BASE[UART_RBR] : -1; }

void qemu_power_off(void) {
  *TEST_DEVICE = TEST_POWER_OFF;
  for (;;) {
  }
}
