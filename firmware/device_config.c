#include <string.h>
#include "device_config.h"

/* link.ld reserves this area outside .bss, so start-up does not clear what QEMU loaded. */
extern const char __device_config[];
extern const char __device_config_end[];

int32_t device_config(const char *key, char *out, uint32_t capacity) {
  uint32_t key_length = strlen(key);
  const char *line = __device_config;
  while (line < __device_config_end && *line != 0) {
    const char *end = line;
    while (end < __device_config_end && *end != '\n' && *end != 0) end++;
    if ((uint32_t)(end - line) > key_length && strncmp(line, key, key_length) == 0 && line[key_length] == '=') {
      uint32_t length = (uint32_t)(end - line) - key_length - 1;
      if (length > capacity - 1) length = capacity - 1;
      memcpy(out, line + key_length + 1, length);
      out[length] = 0;
      return (int32_t)length;
    }
    line = end + (end < __device_config_end && *end == '\n');
  }
  return -1;
}
