/* The device's seeded random source (xorshift32): Message IDs, tokens and the simulated sensor. */
#ifndef RANDOM_H
#define RANDOM_H
#include <stdint.h>

void random_seed(uint32_t seed);
uint32_t random_next(void);

#endif
