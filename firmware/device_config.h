/* The device's settings, the emulator's stand-in for a config partition in
   flash: QEMU's `-device loader,file=…,addr=DEVICE_CONFIG_ADDRESS` places a
   text of `key=value` lines at the top of RAM before boot. */
#ifndef DEVICE_CONFIG_H
#define DEVICE_CONFIG_H
#include <stdint.h>

/* Copies the value of `key` into `out` (NUL-terminated, cut to `capacity`); its length, or -1 when absent. */
int32_t device_config(const char *key, char *out, uint32_t capacity);

#endif
