#include <string.h>
#include "coap_block2.h"
#include "coap_numbers.h"
#include "coap_option.h"

/* SZX 6: 1024-byte blocks, the largest RFC 7959 allows outside BERT (src/server/blockwise.ts). */
#define DEFAULT_BLOCK_SZX 6u

/* A 4-byte FNV-1a hash of the representation, as src/server/blockwise.ts makes its ETag. */
static void etag_of(const uint8_t *payload, uint32_t length, uint8_t out[4]) {
  uint32_t hash = 0x811c9dc5u;
  for (uint32_t i = 0; i < length; i++) hash = (hash ^ payload[i]) * 0x01000193u;
  for (uint32_t i = 0; i < 4; i++) out[i] = (uint8_t)(hash >> (24 - 8 * i));
}

void block2_slice(coap_message *response, const block2_request *request, block2_values *values) {
  uint32_t szx = request->asked && request->szx < DEFAULT_BLOCK_SZX ? request->szx : DEFAULT_BLOCK_SZX;
  uint32_t size = 16u << szx;
  uint32_t length = response->payload_length;
  if ((response->code >> 5) != 2 || (!request->asked && length <= size)) return;
  uint32_t num = request->asked ? request->num : 0;
  uint32_t start = num * size;
  if (start >= length && !(start == 0 && length == 0)) {
    static const char beyond[] = "block beyond the end";
    response->code = COAP_CODE_BAD_OPTION;
    response->option_count = 0;
    response->payload = (const uint8_t *)beyond;
    response->payload_length = sizeof beyond - 1;
    return;
  }
  uint32_t more = start + size < length;
  coap_add_option(response, COAP_OPTION_BLOCK2, values->block,
                  coap_uint_bytes(num << 4 | more << 3 | szx, values->block));
  if (num == 0 || request->size2_asked) {
    coap_add_option(response, COAP_OPTION_SIZE2, values->size2, coap_uint_bytes(length, values->size2));
  }
  /* RFC 7959 §2.4: an ETag lets the client tell blocks of one representation from another's. */
  etag_of(response->payload, length, values->etag);
  coap_add_option(response, COAP_OPTION_ETAG, values->etag, sizeof values->etag);
  response->payload += start;
  response->payload_length = more ? size : length - start;
}
