// Loading a dynamic module the way Envoy does, and resolving its HTTP-filter hooks into a table.
#pragma once

#include <memory>
#include <string>

#include "config.h"
#include "nodevoy_envoy_abi.h"

namespace devhost {

// Every hook the HTTP filter uses. Required ones are never null once resolved.
struct HttpFilterHooks {
  decltype(&envoy_dynamic_module_on_http_filter_config_new) config_new;
  decltype(&envoy_dynamic_module_on_http_filter_config_destroy) config_destroy;
  decltype(&envoy_dynamic_module_on_http_filter_new) filter_new;
  decltype(&envoy_dynamic_module_on_http_filter_request_headers) request_headers;
  decltype(&envoy_dynamic_module_on_http_filter_request_body) request_body;
  decltype(&envoy_dynamic_module_on_http_filter_request_trailers) request_trailers;
  decltype(&envoy_dynamic_module_on_http_filter_response_headers) response_headers;
  decltype(&envoy_dynamic_module_on_http_filter_response_body) response_body;
  decltype(&envoy_dynamic_module_on_http_filter_response_trailers) response_trailers;
  decltype(&envoy_dynamic_module_on_http_filter_stream_complete) stream_complete;
  decltype(&envoy_dynamic_module_on_http_filter_destroy) filter_destroy;
  decltype(&envoy_dynamic_module_on_http_filter_http_callout_done) http_callout_done;
  decltype(&envoy_dynamic_module_on_http_filter_http_stream_headers) http_stream_headers;
  decltype(&envoy_dynamic_module_on_http_filter_http_stream_data) http_stream_data;
  decltype(&envoy_dynamic_module_on_http_filter_http_stream_trailers) http_stream_trailers;
  decltype(&envoy_dynamic_module_on_http_filter_http_stream_complete) http_stream_complete;
  decltype(&envoy_dynamic_module_on_http_filter_http_stream_reset) http_stream_reset;
  decltype(&envoy_dynamic_module_on_http_filter_scheduled) scheduled;
  decltype(&envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark) above_watermark;
  decltype(&envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark) below_watermark;
  // Optional.
  decltype(&envoy_dynamic_module_on_http_filter_local_reply) local_reply;
  decltype(&envoy_dynamic_module_on_http_filter_config_scheduled) config_scheduled;
  // Needed only for per-route config.
  decltype(&envoy_dynamic_module_on_http_filter_per_route_config_new) per_route_config_new;
  decltype(&envoy_dynamic_module_on_http_filter_per_route_config_destroy) per_route_config_destroy;
};

class DynamicModule {
 public:
  // Main thread. Finds and loads the module like Envoy: static symbol check, then
  // $ENVOY_DYNAMIC_MODULES_SEARCH_PATH/lib<name>.so (default "."), then the normal dlopen search.
  // Calls on_program_init once per loaded object. Returns null and sets *error on failure.
  static std::shared_ptr<DynamicModule> load(const DynamicModuleSpec& spec, std::string* error);
  ~DynamicModule();

  // Main thread. Resolves the HTTP-filter hooks; null and *error naming the missing symbol when a
  // required hook is absent.
  const HttpFilterHooks* httpFilterHooks(std::string* error);
  // Main thread. Resolves the per-route hooks; false and *error when absent.
  bool resolvePerRouteHooks(std::string* error);

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }

 private:
  DynamicModule(void* handle, std::string path, std::string name, bool do_not_close)
      : handle_(handle), path_(std::move(path)), name_(std::move(name)), do_not_close_(do_not_close) {}
  void* symbol(const char* name) const;

  void* handle_;
  std::string path_;
  std::string name_;
  bool do_not_close_;
  bool http_resolved_ = false;
  HttpFilterHooks hooks_{};
};

}  // namespace devhost
