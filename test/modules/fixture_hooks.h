/*
 * Shared body of the small conformance fixtures in this directory: every HTTP-filter hook of Envoy's
 * dynamic-module ABI except on_program_init and on_http_filter_config_new, all doing nothing (every
 * status is Continue, every handle is a static sentinel, nothing is allocated).
 *
 * A fixture defines on_program_init and on_http_filter_config_new itself, then includes this file.
 * Define FIXTURE_OMIT_RESPONSE_TRAILERS before the include to leave
 * envoy_dynamic_module_on_http_filter_response_trailers out (missing_hook.c).
 *
 * Not a .c file on purpose: host/Makefile builds every .c file in test/modules into a module of its own.
 */
#ifndef NODEVOY_TEST_FIXTURE_HOOKS_H
#define NODEVOY_TEST_FIXTURE_HOOKS_H

#include "nodevoy_envoy_abi.h"

#define NV_EXPORT __attribute__((visibility("default")))

static const char fixture_config_sentinel = 'c';
static const char fixture_stream_sentinel = 's';
static const char fixture_route_sentinel = 'r';

NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) {}

NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(nv_envoy_buffer name,
                                                                                              nv_envoy_buffer config) {
  return &fixture_route_sentinel;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(nv_route_config_module_ptr route_config) {}

NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                                       nv_filter_envoy_ptr filter_envoy) {
  return &fixture_stream_sentinel;
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

#ifndef FIXTURE_OMIT_RESPONSE_TRAILERS
NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                                   nv_filter_module_ptr filter_module) {
  return NV_TRAILERS_CONTINUE;
}
#endif

NV_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                                   nv_filter_module_ptr filter_module) {}

NV_EXPORT void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr filter_module) {}

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

#endif /* NODEVOY_TEST_FIXTURE_HOOKS_H */
