/*
 * version_mismatch: on_program_init returns an ABI version string no Envoy knows ("v9.9.9-test").
 * Since Envoy v1.37.1 a mismatch only logs a warning; the module must load and work as a no-op filter
 * (every hook continues).
 */
#include "fixture_hooks.h"

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return "v9.9.9-test"; }

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &fixture_config_sentinel;
}
