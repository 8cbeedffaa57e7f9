/* Reset entry: QEMU's virt machine with -bios none starts the hart at the
   start of RAM, so _start is placed first there by link.ld. */
  .section .text.start
  .globl _start
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
  la t0, __bss_start
  la t1, __bss_end
clear_bss:
  bgeu t0, t1, run
  sw zero, 0(t0)
  addi t0, t0, 4
  j clear_bss
run:
  call main
halt:
  wfi
  j halt
