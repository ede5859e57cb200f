/*
 * No-op definitions of the required HTTP-filter hooks of Envoy's dynamic-module ABI, shared by the C
 * modules (host/reference/noop.c, host/reference/basic_auth.c, test/modules/fixture_hooks.h).
 *
 * Each NV_NOOP_HOOK_* macro expands to one exported definition, each NV_NOOP_HOOKS_* macro to several; use
 * them at file scope, without a trailing semicolon. A no-op hook does nothing and allocates nothing: every
 * status is Continue, and a hook that must hand back a handle returns the one given to its macro. A module
 * invokes the macros for the hooks it does not implement itself, so every .so still defines and exports
 * each required hook (see host/abi/module_exports.map).
 *
 * host/Makefile does not track this header as a dependency of the modules: delete the modules' .so files
 * after editing it.
 */
#ifndef NODEVOY_NOOP_HOOKS_H
#define NODEVOY_NOOP_HOOKS_H

#include "nodevoy_envoy_abi.h"

#ifndef NV_EXPORT
#define NV_EXPORT __attribute__((visibility("default")))
#endif

/* ---- Configuration ------------------------------------------------------------------------- */

#define NV_NOOP_HOOK_CONFIG_DESTROY()                                                                                  \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) {}

/* `handle`: the (non-NULL) per-route config handed back to the host, e.g. the address of a static sentinel. */
#define NV_NOOP_HOOK_PER_ROUTE_CONFIG_NEW(handle)                                                                      \
  NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(                       \
      nv_envoy_buffer name, nv_envoy_buffer config) {                                                                  \
    return (handle);                                                                                                   \
  }

#define NV_NOOP_HOOK_PER_ROUTE_CONFIG_DESTROY()                                                                        \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(                                         \
      nv_route_config_module_ptr route_config) {}

/* Both per-route config hooks; `handle` as for NV_NOOP_HOOK_PER_ROUTE_CONFIG_NEW. */
#define NV_NOOP_HOOKS_PER_ROUTE_CONFIG(handle)                                                                         \
  NV_NOOP_HOOK_PER_ROUTE_CONFIG_NEW(handle)                                                                            \
  NV_NOOP_HOOK_PER_ROUTE_CONFIG_DESTROY()

/* ---- Stream lifecycle ---------------------------------------------------------------------- */

/* `handle`: the per-stream handle handed back to the host, e.g. the address of a static sentinel. */
#define NV_NOOP_HOOK_FILTER_NEW(handle)                                                                                \
  NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,           \
                                                                         nv_filter_envoy_ptr filter_envoy) {           \
    return (handle);                                                                                                   \
  }

#define NV_NOOP_HOOK_REQUEST_HEADERS()                                                                                 \
  NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(                                     \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, bool end_of_stream) {                      \
    return NV_HEADERS_CONTINUE;                                                                                        \
  }

#define NV_NOOP_HOOK_REQUEST_BODY()                                                                                    \
  NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_request_body(                                           \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, bool end_of_stream) {                      \
    return NV_BODY_CONTINUE;                                                                                           \
  }

#define NV_NOOP_HOOK_REQUEST_TRAILERS()                                                                                \
  NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(                                   \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {                                          \
    return NV_TRAILERS_CONTINUE;                                                                                       \
  }

#define NV_NOOP_HOOK_RESPONSE_HEADERS()                                                                                \
  NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_response_headers(                                    \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, bool end_of_stream) {                      \
    return NV_HEADERS_CONTINUE;                                                                                        \
  }

#define NV_NOOP_HOOK_RESPONSE_BODY()                                                                                   \
  NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_response_body(                                          \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, bool end_of_stream) {                      \
    return NV_BODY_CONTINUE;                                                                                           \
  }

#define NV_NOOP_HOOK_RESPONSE_TRAILERS()                                                                               \
  NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(                                  \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {                                          \
    return NV_TRAILERS_CONTINUE;                                                                                       \
  }

#define NV_NOOP_HOOK_STREAM_COMPLETE()                                                                                 \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr filter_envoy,                 \
                                                                     nv_filter_module_ptr filter_module) {}

#define NV_NOOP_HOOK_DESTROY()                                                                                         \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr filter_module) {}

/* The stream hooks after request_headers in one: request_body, request_trailers, response_headers,
 * response_body, response_trailers, stream_complete and destroy. */
#define NV_NOOP_HOOKS_STREAM_AFTER_REQUEST_HEADERS()                                                                   \
  NV_NOOP_HOOK_REQUEST_BODY()                                                                                          \
  NV_NOOP_HOOK_REQUEST_TRAILERS()                                                                                      \
  NV_NOOP_HOOK_RESPONSE_HEADERS()                                                                                      \
  NV_NOOP_HOOK_RESPONSE_BODY()                                                                                         \
  NV_NOOP_HOOK_RESPONSE_TRAILERS()                                                                                     \
  NV_NOOP_HOOK_STREAM_COMPLETE()                                                                                       \
  NV_NOOP_HOOK_DESTROY()

/* ---- Callouts, scheduler and watermarks: for modules that never start any ------------------ */

/* Ten hooks in one: http_callout_done, the five http_stream_* hooks, scheduled, and the two
 * downstream watermark hooks. */
#define NV_NOOP_HOOKS_CALLOUTS_SCHEDULER_WATERMARKS()                                                                  \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(                                                \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t callout_id,                       \
      nv_http_callout_result result, nv_envoy_header* headers, size_t headers_size, nv_envoy_buffer* body_chunks,      \
      size_t body_chunks_size) {}                                                                                      \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(                                              \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t stream_id,                        \
      nv_envoy_header* headers, size_t headers_size, bool end_stream) {}                                               \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(                                                 \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t stream_id,                        \
      const nv_envoy_buffer* data, size_t data_count, bool end_stream) {}                                              \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(                                             \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t stream_id,                        \
      nv_envoy_header* trailers, size_t trailers_size) {}                                                              \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(                                             \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t stream_id) {}                     \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(                                                \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t stream_id,                        \
      nv_http_stream_reset_reason reason) {}                                                                           \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_scheduled(                                                        \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module, uint64_t event_id) {}                      \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(                     \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {}                                         \
                                                                                                                       \
  NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(                      \
      nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {}

#endif /* NODEVOY_NOOP_HOOKS_H */
