/* Preloaded to stand for a host that exports libuv names (an Envoy built with
 * --define exported_symbols=enabled exports whatever it links). Not uv_version, the name the first
 * isolation check looked at: every name must count. */
__attribute__((visibility("default"))) unsigned long long uv_hrtime(void) { return 0; }
