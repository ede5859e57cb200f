/* A brotli decoder name (libbrotlidec), as Envoy's brotli decompressor links it. */
#include <stddef.h>
__attribute__((visibility("default"))) void* BrotliDecoderCreateInstance(void* alloc, void* release, void* opaque) {
  return NULL;
}
