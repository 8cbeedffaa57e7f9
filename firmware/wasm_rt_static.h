/* Bare-metal wasm2c runtime: how much linear memory the device gives the core,
   and where a trap unwinds to. */
#ifndef WASM_RT_STATIC_H
#define WASM_RT_STATIC_H
#include <setjmp.h>

/* One 64 KiB page: the shared area (about 30 KiB) and the message layer's tables at the device's sizes
   (core_glue.h, about 5 KiB) fit in it. A core that outgrows it traps at start-up (tables.ts reserve()). */
#define LINEAR_MEMORY_PAGES 1u

/* Set by the glue around each call into the core; wasm_rt_trap longjmps here with the trap code. */
extern jmp_buf *core_trap_target;

#endif
