/* A library that exports a libuv symbol, preloaded to stand for a host process that exports
 * everything (an Envoy built with --define exported_symbols=enabled). libnodevoy must notice that
 * uv_version no longer resolves inside libuv and refuse to load. */
__attribute__((visibility("default"))) unsigned int uv_version(void) { return 0xdec0; }
