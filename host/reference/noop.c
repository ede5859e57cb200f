/*
 * noop: the performance floor. An HTTP filter that does nothing: every hook continues, no memory is
 * allocated, no callback is made. Its added cost over "no filter" is the pure price of the dynamic
 * module plumbing (one indirect call per hook).
 *
 * Written directly against Envoy's dynamic-module C ABI (host/abi/nodevoy_envoy_abi.h).
 */
#include "nodevoy_noop_hooks.h"

/* Handles handed back to the host. Their addresses are all that matters: nothing is stored in them. */
static const char noop_config_sentinel = 'c';
static const char noop_stream_sentinel = 's';
static const char noop_route_sentinel = 'r';

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NV_ABI_VERSION_V1_40; }

/* ---- Configuration ------------------------------------------------------------------------- */

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &noop_config_sentinel;
}

NV_NOOP_HOOK_CONFIG_DESTROY()
NV_NOOP_HOOKS_PER_ROUTE_CONFIG(&noop_route_sentinel)

/* ---- Stream lifecycle: every hook continues ------------------------------------------------ */

NV_NOOP_HOOK_FILTER_NEW(&noop_stream_sentinel)
NV_NOOP_HOOK_REQUEST_HEADERS()
NV_NOOP_HOOKS_STREAM_AFTER_REQUEST_HEADERS()

/* ---- Callouts, scheduler and watermarks: never started by this module ----------------------- */

NV_NOOP_HOOKS_CALLOUTS_SCHEDULER_WATERMARKS()
