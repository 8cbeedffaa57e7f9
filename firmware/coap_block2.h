/* RFC 7959 Block2 on the server side: a response cut to the block a request
   asks for, as src/server/blockwise.ts slice() cuts it. */
#ifndef COAP_BLOCK2_H
#define COAP_BLOCK2_H
#include <stdint.h>
#include "core_glue.h"

/* What the request said about blocks. */
typedef struct {
  int asked;
  uint32_t num;
  uint32_t szx;
  /* RFC 7959 §4: a Size2 in the request asks for the size in every block. */
  int size2_asked;
} block2_request;

/* The option values a slice adds; they must live until the response is encoded. */
typedef struct {
  uint8_t block[3];
  uint8_t size2[4];
  uint8_t etag[4];
} block2_values;

/* Cuts a 2.xx `response` (its payload whole) to the block asked for, or to the first one when the payload
   is larger than a block and none was asked for; adds Block2, Size2 and an ETag. A block past the end
   turns it into 4.02 (as the Deno server answers). Other responses are left as they are. */
void block2_slice(coap_message *response, const block2_request *request, block2_values *values);

#endif
