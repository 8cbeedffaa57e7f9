/* The device's serial port: the ns16550a UART of QEMU's virt machine, and its power-off switch. */
#ifndef UART_H
#define UART_H
#include <stdbool.h>
#include <stdint.h>

/* Enables the receive FIFO and the receive interrupt (so the CPU can sleep until a byte arrives). */
void uart_init(void);
void uart_write(const uint8_t *bytes, uint32_t length);
/* One received byte, or -1 when none is waiting. */
int uart_read(void);
bool uart_has_data(void);
void qemu_power_off(void) __attribute__((noreturn));

#endif
