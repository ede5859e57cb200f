/*
 * unresolved_callback: a no-op module that references a callback no Envoy release exports
 * (envoy_dynamic_module_callback_nodevoy_test_never_exported), on a path it never takes. Envoy v1.40 loads
 * modules with RTLD_NOW and refuses it ("undefined symbol"); v1.38 and v1.39 load with RTLD_LAZY, so it
 * loads and works as long as that call is never made (making it would end the process).
 */
#include <stdlib.h>

#include "fixture_hooks.h"

void envoy_dynamic_module_callback_nodevoy_test_never_exported(void);

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) {
  /* Never set: the reference has to exist in the object, the call must never happen. */
  if (getenv("NODEVOY_TEST_CALL_UNRESOLVED_CALLBACK_AND_CRASH") != NULL) {
    envoy_dynamic_module_callback_nodevoy_test_never_exported();
  }
  return NV_ABI_VERSION_V1_38;
}

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &fixture_config_sentinel;
}
