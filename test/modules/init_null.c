/*
 * init_null: on_program_init returns NULL, which tells the host the module failed to initialise.
 * Expected: loading the module fails (Envoy: the filter config is rejected, module_load_error), and no
 * other hook is ever called. Every other hook is exported, so NULL is the only reason to refuse it.
 */
#include <stddef.h>

#include "fixture_hooks.h"

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NULL; }

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &fixture_config_sentinel;
}
