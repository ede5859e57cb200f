/*
 * buffer: holds the request until its body has arrived whole, then lets it go on (what Envoy's own
 * envoy.filters.http.buffer does, without its size limit: the connection's buffer limit applies).
 * The C floor for filters that read the whole request body: a direct-response route answers as soon as
 * the request headers reach the router, and an HTTP/1 response sent before the request has ended closes
 * the connection; behind this filter the response starts after the body, and the connection is kept.
 *
 * Written directly against Envoy's dynamic-module C ABI (host/abi/nodevoy_envoy_abi.h).
 */
#include "nodevoy_noop_hooks.h"

/* Handles handed back to the host. Their addresses are all that matters: nothing is stored in them. */
static const char buffer_config_sentinel = 'c';
static const char buffer_stream_sentinel = 's';
static const char buffer_route_sentinel = 'r';

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NV_ABI_VERSION_V1_40; }

/* ---- Configuration ------------------------------------------------------------------------- */

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  return &buffer_config_sentinel;
}

NV_NOOP_HOOK_CONFIG_DESTROY()
NV_NOOP_HOOKS_PER_ROUTE_CONFIG(&buffer_route_sentinel)

/* ---- Stream: the request waits for its body ------------------------------------------------- */

NV_NOOP_HOOK_FILTER_NEW(&buffer_stream_sentinel)

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr filter_envoy,
                                                                                nv_filter_module_ptr filter_module,
                                                                                bool end_of_stream) {
  return end_of_stream ? NV_HEADERS_CONTINUE : NV_HEADERS_STOP_ITERATION;
}

/* Envoy buffers each frame this hook stops on; the last one lets the headers and the whole body go on. */
NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_request_body(nv_filter_envoy_ptr filter_envoy,
                                                                          nv_filter_module_ptr filter_module,
                                                                          bool end_of_stream) {
  return end_of_stream ? NV_BODY_CONTINUE : NV_BODY_STOP_ITERATION_AND_BUFFER;
}

NV_NOOP_HOOK_REQUEST_TRAILERS()
NV_NOOP_HOOK_RESPONSE_HEADERS()
NV_NOOP_HOOK_RESPONSE_BODY()
NV_NOOP_HOOK_RESPONSE_TRAILERS()
NV_NOOP_HOOK_STREAM_COMPLETE()
NV_NOOP_HOOK_DESTROY()

/* ---- Callouts, scheduler and watermarks: never started by this module ----------------------- */

NV_NOOP_HOOKS_CALLOUTS_SCHEDULER_WATERMARKS()
