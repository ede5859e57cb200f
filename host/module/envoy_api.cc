#include "envoy_api.h"

#include <dlfcn.h>

namespace nodevoy {

EnvoyApi envoy;

bool resolveEnvoyApi(std::string* missing) {
  bool ok = true;
  auto resolve = [&](auto& slot, const char* name, bool required) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(RTLD_DEFAULT, name));
    if (slot == nullptr && required && ok) {
      *missing = name;
      ok = false;
    }
  };
#define NV_REQUIRED(name) resolve(envoy.name, "envoy_dynamic_module_callback_" #name, true);
#define NV_OPTIONAL(name) resolve(envoy.name, "envoy_dynamic_module_callback_" #name, false);
  NV_REQUIRED(http_get_header)
  NV_REQUIRED(http_get_headers_size)
  NV_REQUIRED(http_get_headers)
  NV_REQUIRED(http_set_header)
  NV_REQUIRED(http_add_header)
  NV_REQUIRED(http_get_body_size)
  NV_REQUIRED(http_send_response)
  NV_REQUIRED(http_filter_continue_decoding)
  NV_REQUIRED(http_filter_continue_encoding)
  NV_REQUIRED(http_filter_scheduler_new)
  NV_REQUIRED(http_filter_scheduler_commit)
  NV_REQUIRED(http_filter_scheduler_delete)
  NV_REQUIRED(log)
  NV_REQUIRED(log_enabled)
  NV_REQUIRED(http_filter_config_define_counter)
  NV_REQUIRED(http_filter_increment_counter)
  NV_REQUIRED(http_filter_get_worker_index)
  NV_REQUIRED(http_filter_get_attribute_string)
  NV_REQUIRED(http_filter_get_attribute_int)
  NV_REQUIRED(get_concurrency)
  NV_REQUIRED(http_filter_reset_stream)
  NV_OPTIONAL(log_v2)
  NV_OPTIONAL(http_filter_config_increment_counter)
#undef NV_REQUIRED
#undef NV_OPTIONAL
  return ok;
}

}  // namespace nodevoy
