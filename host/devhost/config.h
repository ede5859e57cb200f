// The subset of Envoy's v3 bootstrap that the dev host accepts, parsed strictly: every field the
// host does not implement is rejected with its path, never ignored.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace devhost {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SocketAddressSpec {
  std::string address;
  uint16_t port = 0;
};

// envoy.extensions.dynamic_modules.v3.DynamicModuleConfig
struct DynamicModuleSpec {
  std::string name;          // loads lib<name>.so
  std::string local_path;    // module.local.filename, takes precedence over name
  bool do_not_close = false;
  bool load_globally = false;
  std::string metrics_namespace = "dynamicmodulescustom";
};

// envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter
struct DynamicModuleFilterSpec {
  std::string instance_name;  // http_filters[].name
  DynamicModuleSpec module;
  std::string filter_name;
  std::string filter_config;  // bytes handed to on_http_filter_config_new
  bool terminal_filter = false;
  bool disabled = false;      // http_filters[].disabled: off unless a route enables it
};

// envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute, or a FilterConfig
// wrapper that only disables/enables the filter for the route.
struct PerFilterConfigSpec {
  bool has_module_config = false;
  DynamicModuleSpec module;
  std::string filter_name;
  std::string filter_config;
  std::optional<bool> disabled;  // from envoy.config.route.v3.FilterConfig
};

struct RouteSpec {
  std::string name;
  enum class Match { Prefix, Path } match = Match::Prefix;
  std::string match_value;
  bool case_sensitive = true;
  // Exactly one action.
  std::string cluster;
  uint64_t timeout_ms = 15000;  // Envoy's default route timeout; 0 disables
  std::optional<std::string> prefix_rewrite;
  bool has_direct_response = false;
  uint32_t direct_status = 0;
  std::string direct_body;
  std::map<std::string, PerFilterConfigSpec> per_filter;
  std::map<std::string, std::map<std::string, std::string>> metadata_json;  // filter_metadata ns -> key -> JSON
};

struct VirtualHostSpec {
  std::string name;
  std::vector<std::string> domains;
  std::vector<RouteSpec> routes;
  std::map<std::string, PerFilterConfigSpec> per_filter;
};

struct HttpConnectionManagerSpec {
  std::string stat_prefix;
  std::string route_config_name;
  std::vector<VirtualHostSpec> virtual_hosts;
  std::vector<DynamicModuleFilterSpec> module_filters;  // in chain order
  bool router_present = false;                          // the chain ends with envoy.filters.http.router
  bool generate_request_id = true;
  std::string server_name = "envoy";
  bool http1_enable_trailers = false;  // http_protocol_options.enable_trailers: else HTTP/1 trailers are dropped
  bool http1_accept_http_10 = false;   // http_protocol_options.accept_http_10: else HTTP/1.0 gets 426
};

struct ListenerSpec {
  std::string name;
  SocketAddressSpec address;
  uint32_t per_connection_buffer_limit_bytes = 1024 * 1024;
  HttpConnectionManagerSpec hcm;
};

struct ClusterSpec {
  std::string name;
  uint64_t connect_timeout_ms = 5000;
  std::vector<SocketAddressSpec> endpoints;
  // envoy.extensions.upstreams.http.v3.HttpProtocolOptions explicit_http_config.http_protocol_options.enable_trailers
  bool http1_enable_trailers = false;
};

// Bootstrap.inline_headers: a header registered as inline (O(1)) for one header map type.
struct InlineHeaderSpec {
  std::string name;
  enum class Type { RequestHeader, RequestTrailer, ResponseHeader, ResponseTrailer } type = Type::RequestHeader;
};

struct BootstrapSpec {
  std::optional<SocketAddressSpec> admin;
  std::vector<InlineHeaderSpec> inline_headers;
  std::vector<ListenerSpec> listeners;
  std::vector<ClusterSpec> clusters;
};

// Main thread. Throws ConfigError naming the field path and what is wrong.
BootstrapSpec loadBootstrapFile(const std::string& path);
BootstrapSpec loadBootstrapYaml(const std::string& yaml_text);

// Helpers shared with tests of the parser.
std::string base64Decode(const std::string& text, bool* ok);

}  // namespace devhost
