/* A brotli decoder name (libbrotlidec), as Envoy's brotli decompressor links it. */
#include <stddef.h>

#include "decoy.h"

DECOY void* BrotliDecoderCreateInstance(void* alloc, void* release, void* opaque) {
  decoy_called("BrotliDecoderCreateInstance");
  return NULL;
}
