/* Milliseconds since boot from the machine timer, and sleeping until a deadline or a received byte. */
#ifndef CLOCK_H
#define CLOCK_H
#include <stdint.h>

void clock_init(void);
/* Wraps after 49 days; compare with signed differences, as the core does. */
uint32_t clock_ms(void);
/* Sleeps (wfi) until `deadline` ms or until the UART has a byte, whichever comes first. */
void clock_sleep_until(uint32_t deadline);

#endif
