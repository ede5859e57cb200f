/* A zlib name, as a host that links zlib statically and exports everything has it. */
#include "decoy.h"

DECOY int inflateInit2_(void* stream, int window_bits, const char* version, int stream_size) {
  decoy_called("inflateInit2_");
  return -2; /* Z_STREAM_ERROR */
}
