/* Reset entry: with -bios none and a pflash image QEMU's virt machine starts
   the hart at the start of flash, where link.ld places _start. It copies the
   initialised data from flash to RAM, clears .bss, and calls main. */
  .section .text.start
  .globl _start
_start:
  .option push
  .option norelax
  la gp, __global_pointer$
  .option pop
  la sp, __stack_top
  la t0, __data_load
  la t1, __data_start
  la t2, __data_end
copy_data:
  bgeu t1, t2, clear
  lw t3, 0(t0)
  sw t3, 0(t1)
  addi t0, t0, 4
  addi t1, t1, 4
  j copy_data
clear:
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
