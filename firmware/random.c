#include "random.h"

static uint32_t state = 1;

/* xorshift32 is stuck at zero, so a zero seed is replaced. */
void random_seed(uint32_t seed) { state = seed != 0 ? seed : 0x9e3779b9u; }

uint32_t random_next(void) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}
