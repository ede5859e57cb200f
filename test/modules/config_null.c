/*
 * config_null: loads fine, but on_http_filter_config_new logs one error line and returns NULL, so every
 * filter config that uses this module is rejected (Envoy: config_init_error). No stream hook is ever called.
 */
#include <stddef.h>

#include "fixture_hooks.h"

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NV_ABI_VERSION_V1_40; }

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  static const char message[] = "config_null: rejecting the filter config on purpose";
  envoy_dynamic_module_callback_log(NV_LOG_ERROR, (nv_module_buffer){message, sizeof message - 1});
  return NULL;
}
