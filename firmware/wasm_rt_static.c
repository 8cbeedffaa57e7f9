/* The part of wasm2c's runtime the translated core needs, for bare metal:
   linear memory in a static array (no mmap), and traps that unwind to the
   caller with longjmp (no signal handlers). Bounds checks stay in the
   generated code. */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include "wasm-rt.h"
#include "wasm_rt_static.h"

#define PAGE_SIZE 65536u

static uint8_t linear_memory[LINEAR_MEMORY_PAGES * PAGE_SIZE] __attribute__((aligned(16)));
static uint32_t registered_types;
jmp_buf *core_trap_target;
/* Without signal handlers wasm2c counts call depth to catch runaway recursion (it traps past 500). */
uint32_t wasm_rt_call_stack_depth;

void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
  memory->data = linear_memory;
  memory->pages = initial_pages;
  memory->max_pages = max_pages < LINEAR_MEMORY_PAGES ? max_pages : LINEAR_MEMORY_PAGES;
  memory->size = initial_pages * PAGE_SIZE;
  memset(linear_memory, 0, sizeof linear_memory);
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t pages) {
  uint32_t previous = memory->pages;
  if (pages > memory->max_pages - previous) return UINT32_MAX;
  memory->pages += pages;
  memory->size = memory->pages * PAGE_SIZE;
  return previous;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory) { (void)memory; }

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  (void)params;
  (void)results;
  return registered_types++;
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
  wasm_rt_call_stack_depth = 0;
  longjmp(*core_trap_target, trap == WASM_RT_TRAP_NONE ? -1 : (int)trap);
}
