// The Envoy callbacks libnodevoy uses, resolved by name at program init (dlsym), so a callback newer
// than the running Envoy never stops the module from loading: optional ones are simply null.
#pragma once

#include <string>

#include "nodevoy_envoy_abi.h"

namespace nodevoy {

struct EnvoyApi {
#define NV_CALLBACK(name) decltype(&envoy_dynamic_module_callback_##name) name = nullptr;
  // Present since Envoy v1.38 (required).
  NV_CALLBACK(http_get_header)
  NV_CALLBACK(http_get_headers_size)
  NV_CALLBACK(http_get_headers)
  NV_CALLBACK(http_set_header)
  NV_CALLBACK(http_add_header)
  NV_CALLBACK(http_get_body_size)
  NV_CALLBACK(http_send_response)
  NV_CALLBACK(http_filter_continue_decoding)
  NV_CALLBACK(http_filter_continue_encoding)
  NV_CALLBACK(http_filter_scheduler_new)
  NV_CALLBACK(http_filter_scheduler_commit)
  NV_CALLBACK(http_filter_scheduler_delete)
  NV_CALLBACK(log)
  NV_CALLBACK(log_enabled)
  NV_CALLBACK(http_filter_config_define_counter)
  NV_CALLBACK(http_filter_increment_counter)
  NV_CALLBACK(http_filter_get_worker_index)
  NV_CALLBACK(http_filter_get_attribute_string)
  NV_CALLBACK(http_filter_get_attribute_int)
  NV_CALLBACK(get_concurrency)
  NV_CALLBACK(http_filter_reset_stream)
  // Newer (optional): null when the running Envoy lacks them.
  NV_CALLBACK(log_v2)  // v1.40
  NV_CALLBACK(http_filter_config_increment_counter)  // v1.39
#undef NV_CALLBACK
};

// Process-wide table; filled once by resolveEnvoyApi() in on_program_init (main thread), read-only after.
extern EnvoyApi envoy;

// Main thread. False with *missing naming the first required callback the process does not export.
bool resolveEnvoyApi(std::string* missing);

}  // namespace nodevoy
