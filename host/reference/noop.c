/*
 * noop: the performance floor. An HTTP filter that does nothing: every hook continues, no memory is
 * allocated, no callback is made. Its added cost over "no filter" is the pure price of the dynamic
 * module plumbing (one indirect call per hook).
 *
 * Written directly against Envoy's dynamic-module C ABI (host/abi/nodevoy_envoy_abi.h).
 */
#include "nodevoy_envoy_abi.h"

#define NV_EXPORT __attribute__((visibility("default")))

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

NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) {}

NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(nv_envoy_buffer name,
                                                                                              nv_envoy_buffer config) {
  return &noop_route_sentinel;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(nv_route_config_module_ptr route_config) {}

/* ---- Stream lifecycle ---------------------------------------------------------------------- */

NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                                       nv_filter_envoy_ptr filter_envoy) {
  return &noop_stream_sentinel;
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr filter_envoy,
                                                                                nv_filter_module_ptr filter_module,
                                                                                bool end_of_stream) {
  return NV_HEADERS_CONTINUE;
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_request_body(nv_filter_envoy_ptr filter_envoy,
                                                                          nv_filter_module_ptr filter_module,
                                                                          bool end_of_stream) {
  return NV_BODY_CONTINUE;
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                                  nv_filter_module_ptr filter_module) {
  return NV_TRAILERS_CONTINUE;
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_response_headers(nv_filter_envoy_ptr filter_envoy,
                                                                                 nv_filter_module_ptr filter_module,
                                                                                 bool end_of_stream) {
  return NV_HEADERS_CONTINUE;
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_response_body(nv_filter_envoy_ptr filter_envoy,
                                                                           nv_filter_module_ptr filter_module,
                                                                           bool end_of_stream) {
  return NV_BODY_CONTINUE;
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                                   nv_filter_module_ptr filter_module) {
  return NV_TRAILERS_CONTINUE;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                                   nv_filter_module_ptr filter_module) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr filter_module) {}

/* ---- Callouts, scheduler and watermarks: never started by this module ----------------------- */

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(nv_filter_envoy_ptr filter_envoy,
                                                                     nv_filter_module_ptr filter_module,
                                                                     uint64_t callout_id, nv_http_callout_result result,
                                                                     nv_envoy_header* headers, size_t headers_size,
                                                                     nv_envoy_buffer* body_chunks,
                                                                     size_t body_chunks_size) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(nv_filter_envoy_ptr filter_envoy,
                                                                       nv_filter_module_ptr filter_module,
                                                                       uint64_t stream_id, nv_envoy_header* headers,
                                                                       size_t headers_size, bool end_stream) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(nv_filter_envoy_ptr filter_envoy,
                                                                    nv_filter_module_ptr filter_module,
                                                                    uint64_t stream_id, const nv_envoy_buffer* data,
                                                                    size_t data_count, bool end_stream) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                        nv_filter_module_ptr filter_module,
                                                                        uint64_t stream_id, nv_envoy_header* trailers,
                                                                        size_t trailers_size) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                                        nv_filter_module_ptr filter_module,
                                                                        uint64_t stream_id) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(nv_filter_envoy_ptr filter_envoy,
                                                                     nv_filter_module_ptr filter_module,
                                                                     uint64_t stream_id,
                                                                     nv_http_stream_reset_reason reason) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_scheduled(nv_filter_envoy_ptr filter_envoy,
                                                             nv_filter_module_ptr filter_module, uint64_t event_id) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {}
