/* A c-ares name, as Envoy's DNS resolver links it. */
__attribute__((visibility("default"))) int ares_init_options(void* channel, void* options, int mask) {
  return 15; /* ARES_ENOMEM */
}
