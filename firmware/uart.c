/* ns16550a at 0x10000000 on QEMU's virt machine; the SiFive test device at 0x100000 powers it off. */
#include "uart.h"

#define UART_BASE ((volatile uint8_t *)0x10000000)
#define UART_RBR 0
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_LSR 5
#define UART_DLL 0
#define UART_DLM 1
#define LCR_DIVISOR_LATCH 0x80
#define LCR_8N1 0x03
#define IER_RX_AVAILABLE 0x01
/* FIFO on and cleared, receive interrupt at 14 bytes (or after 4 idle character times). */
#define FCR_ENABLE_CLEAR_TRIGGER_14 0xC7
/* QEMU's virt UART runs from a 3.6864 MHz clock: divisor 1 is 230400 baud. */
#define DIVISOR 1
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define TEST_DEVICE ((volatile uint32_t *)0x100000)
#define TEST_POWER_OFF 0x5555

/* QEMU takes from the host socket only as many bytes as the FIFO's trigger level leaves room for, one
   main-loop pass each: at the default level of 1 a 60-byte frame took about 60 passes (4 ms). */
void uart_init(void) {
  UART_BASE[UART_LCR] = LCR_DIVISOR_LATCH;
  UART_BASE[UART_DLL] = DIVISOR;
  UART_BASE[UART_DLM] = 0;
  UART_BASE[UART_LCR] = LCR_8N1;
  UART_BASE[UART_FCR] = FCR_ENABLE_CLEAR_TRIGGER_14;
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
