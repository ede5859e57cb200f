/*
 * missing_hook: a no-op module that does NOT export envoy_dynamic_module_on_http_filter_response_trailers,
 * one of the hooks Envoy requires. on_program_init succeeds, so the object loads; creating a filter config
 * from it must then be refused, with a log line that names the missing symbol.
 */
#define FIXTURE_OMIT_RESPONSE_TRAILERS 1
#include "fixture_hooks.h"

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NV_ABI_VERSION_V1_40; }

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &fixture_config_sentinel;
}
