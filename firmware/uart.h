/* The device's console: the ns16550a UART of QEMU's virt machine, and its power-off switch. */
#ifndef UART_H
#define UART_H
#include <stdint.h>

void uart_puts(const char *text);
void uart_putu(uint32_t value);
void qemu_power_off(void) __attribute__((noreturn));

#endif
