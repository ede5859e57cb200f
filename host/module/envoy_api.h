// The Envoy callbacks libnodevoy uses, resolved by name at program init (dlsym), so a callback newer
// than the running Envoy never stops the module from loading: optional ones are simply null.
#pragma once

#include <string>

#include "nodevoy_envoy_abi.h"

namespace nodevoy {

// Every Envoy callback libnodevoy calls, once: REQUIRED ones (present since Envoy v1.38 and used on
// the stream path) must resolve or the module refuses to load, naming the callback; OPTIONAL ones
// are null on an Envoy that lacks them, and the features that need them say so when used.
#define NV_ENVOY_CALLBACKS(REQUIRED, OPTIONAL)                                    \
  REQUIRED(http_get_header)                                                       \
  REQUIRED(http_get_headers_size)                                                 \
  REQUIRED(http_get_headers)                                                      \
  REQUIRED(http_set_header)                                                       \
  REQUIRED(http_add_header)                                                       \
  REQUIRED(http_get_body_size)                                                    \
  REQUIRED(http_get_body_chunks_size)                                             \
  REQUIRED(http_get_body_chunks)                                                  \
  REQUIRED(http_append_body)                                                      \
  REQUIRED(http_drain_body)                                                       \
  REQUIRED(http_send_response)                                                    \
  REQUIRED(http_filter_continue_decoding)                                         \
  REQUIRED(http_filter_continue_encoding)                                         \
  REQUIRED(http_filter_scheduler_new)                                             \
  REQUIRED(http_filter_scheduler_commit)                                          \
  REQUIRED(http_filter_scheduler_delete)                                          \
  REQUIRED(log)                                                                   \
  REQUIRED(log_enabled)                                                           \
  REQUIRED(http_filter_config_define_counter)                                     \
  REQUIRED(http_filter_increment_counter)                                         \
  REQUIRED(http_filter_get_worker_index)                                          \
  REQUIRED(get_concurrency)                                                       \
  REQUIRED(http_filter_reset_stream)                                              \
  OPTIONAL(http_received_buffered_request_body)                                   \
  OPTIONAL(http_received_buffered_response_body)                                  \
  OPTIONAL(http_get_buffer_limit)                                                 \
  OPTIONAL(http_filter_get_attribute_string)                                      \
  OPTIONAL(http_filter_get_attribute_int)                                         \
  OPTIONAL(http_filter_get_attribute_bool)                                        \
  OPTIONAL(http_set_dynamic_metadata_number)                                      \
  OPTIONAL(http_set_dynamic_metadata_string)                                      \
  OPTIONAL(http_set_dynamic_metadata_bool)                                        \
  OPTIONAL(http_get_metadata_number)                                              \
  OPTIONAL(http_get_metadata_string)                                              \
  OPTIONAL(http_get_metadata_bool)                                                \
  OPTIONAL(http_set_filter_state_bytes)                                           \
  OPTIONAL(http_get_filter_state_bytes)                                           \
  OPTIONAL(http_clear_route_cache)                                                \
  OPTIONAL(log_v2)                               /* v1.40 */                      \
  OPTIONAL(http_filter_config_increment_counter) /* v1.39 */                      \
  /* issue 10: metrics, per-route config, callouts, config-level scheduling */     \
  OPTIONAL(http_filter_config_define_gauge)                                       \
  OPTIONAL(http_filter_config_define_histogram)                                   \
  OPTIONAL(http_filter_increment_gauge)                                           \
  OPTIONAL(http_filter_decrement_gauge)                                           \
  OPTIONAL(http_filter_set_gauge)                                                 \
  OPTIONAL(http_filter_record_histogram_value)                                    \
  OPTIONAL(http_filter_config_increment_gauge)         /* newer than v1.38 */     \
  OPTIONAL(http_filter_config_decrement_gauge)         /* newer than v1.38 */     \
  OPTIONAL(http_filter_config_set_gauge)               /* newer than v1.38 */     \
  OPTIONAL(http_filter_config_record_histogram_value)  /* newer than v1.38 */     \
  OPTIONAL(get_most_specific_route_config)                                        \
  OPTIONAL(http_filter_http_callout)                                              \
  OPTIONAL(http_filter_start_http_stream)                                         \
  OPTIONAL(http_stream_send_data)                                                 \
  OPTIONAL(http_stream_send_trailers)                                             \
  OPTIONAL(http_filter_reset_http_stream)                                         \
  OPTIONAL(http_filter_config_scheduler_new)                                      \
  OPTIONAL(http_filter_config_scheduler_commit)                                   \
  OPTIONAL(http_filter_config_scheduler_delete)

struct EnvoyApi {
#define NV_CALLBACK(name) decltype(&envoy_dynamic_module_callback_##name) name = nullptr;
  NV_ENVOY_CALLBACKS(NV_CALLBACK, NV_CALLBACK)
#undef NV_CALLBACK
};

// Process-wide table; filled once by resolveEnvoyApi() in on_program_init (main thread), read-only after.
extern EnvoyApi envoy;

// Main thread. False with *missing naming the first required callback the process does not export.
bool resolveEnvoyApi(std::string* missing);

}  // namespace nodevoy
