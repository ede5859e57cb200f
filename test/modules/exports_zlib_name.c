/*
 * exports_zlib_name: a no-op filter module that also exports a zlib name (inflateInit2_), as a module
 * that bundles its own zlib with default visibility would. Loaded RTLD_LOCAL (Envoy's default) the
 * name is invisible to other objects and libnodevoy must load next to it; loaded with
 * load_globally: true it joins the global scope ahead of libnode's zlib and libnodevoy must refuse.
 * Built without the modules' version script (host/Makefile) so the extra name stays exported.
 */
#include "fixture_hooks.h"

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NV_ABI_VERSION_V1_40; }

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &fixture_config_sentinel;
}

/* Never called by anyone when isolation holds. */
NV_EXPORT int inflateInit2_(void* stream, int window_bits, const char* version, int stream_size) {
  return -2; /* Z_STREAM_ERROR */
}
