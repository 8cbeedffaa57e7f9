/* Bare-metal wasm2c runtime: how much linear memory the device gives the core,
   and where a trap unwinds to. */
#ifndef WASM_RT_STATIC_H
#define WASM_RT_STATIC_H
#include <setjmp.h>

/* Two 64 KiB pages: the shared area and the device-sized tables fit in them. */
#define LINEAR_MEMORY_PAGES 2u

/* Set by the glue around each call into the core; wasm_rt_trap longjmps here with the trap code. */
extern jmp_buf *core_trap_target;

#endif
