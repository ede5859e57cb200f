/* A zlib name, as a host that links zlib statically and exports everything has it. */
__attribute__((visibility("default"))) int inflateInit2_(void* stream, int bits, const char* version, int size) {
  return -2; /* Z_STREAM_ERROR */
}
