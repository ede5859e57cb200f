#include "config.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace devhost {
namespace {

constexpr const char* kTypePrefix = "type.googleapis.com/";
constexpr const char* kHcmType = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
constexpr const char* kModuleFilterType = "envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";
constexpr const char* kModuleFilterPerRouteType =
    "envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute";
constexpr const char* kRouterType = "envoy.extensions.filters.http.router.v3.Router";
constexpr const char* kFilterConfigType = "envoy.config.route.v3.FilterConfig";

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw ConfigError(path + ": " + what); }

// Protobuf's JSON/YAML mapping accepts lowerCamelCase as well as the proto field name.
std::string toSnakeCase(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out.push_back('_');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string describeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "the scalar '" + node.Scalar() + "'";
    case YAML::NodeType::Null: return "null";
    default: return "nothing";
  }
}

// One protobuf message in the YAML tree: knows its path, its type and the fields the host accepts.
class Message {
 public:
  Message(const YAML::Node& node, std::string path, std::string type, std::set<std::string> fields)
      : path_(std::move(path)), type_(std::move(type)) {
    if (!node.IsMap()) fail(path_, "expected " + type_ + " (a mapping), got " + describeKind(node));
    for (const auto& entry : node) {
      std::string key = entry.first.as<std::string>();
      std::string field = key == "@type" ? key : toSnakeCase(key);
      if (!fields.count(field)) {
        std::string accepted;
        for (const auto& f : fields) {
          if (f == "@type") continue;
          accepted += accepted.empty() ? f : ", " + f;
        }
        fail(join(key), "unknown field, or a field of " + type_ + " the dev host does not implement (accepted: " +
                            accepted + ")");
      }
      if (values_.count(field)) fail(join(key), "field given twice");
      values_[field] = entry.second;
    }
  }

  bool has(const std::string& field) const { return values_.count(field) > 0; }
  YAML::Node get(const std::string& field) const {
    auto it = values_.find(field);
    return it == values_.end() ? YAML::Node() : it->second;
  }
  std::string join(const std::string& field) const { return path_.empty() ? field : path_ + "." + field; }
  const std::string& path() const { return path_; }
  const std::string& type() const { return type_; }

  void require(const std::string& field) const {
    if (!has(field)) fail(join(field), "required field of " + type_ + " is missing");
  }

  std::string string(const std::string& field, const std::string& fallback = "") const {
    if (!has(field)) return fallback;
    YAML::Node node = get(field);
    if (!node.IsScalar()) fail(join(field), "expected a string, got " + describeKind(node));
    return node.Scalar();
  }

  bool boolean(const std::string& field, bool fallback) const {
    if (!has(field)) return fallback;
    YAML::Node node = get(field);
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text == "true") return true;
    if (text == "false") return false;
    fail(join(field), "expected true or false, got " + describeKind(node));
  }

  uint64_t uint(const std::string& field, uint64_t max, uint64_t fallback) const {
    if (!has(field)) return fallback;
    YAML::Node node = get(field);
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
      fail(join(field), "expected a non-negative integer, got " + describeKind(node));
    }
    errno = 0;
    unsigned long long value = strtoull(text.c_str(), nullptr, 10);
    if (errno != 0 || value > max) fail(join(field), "value " + text + " is out of range (max " + std::to_string(max) + ")");
    return value;
  }

  // google.protobuf.Duration in its JSON form: "<seconds>s", e.g. "5s" or "0.25s".
  uint64_t durationMs(const std::string& field, uint64_t fallback) const {
    if (!has(field)) return fallback;
    YAML::Node node = get(field);
    std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text.size() < 2 || text.back() != 's') {
      fail(join(field), "expected a duration such as \"5s\" or \"0.25s\", got " + describeKind(node));
    }
    char* end = nullptr;
    double seconds = strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() - 1 || seconds < 0 || !std::isfinite(seconds)) {
      fail(join(field), "expected a duration such as \"5s\" or \"0.25s\", got '" + text + "'");
    }
    return static_cast<uint64_t>(std::llround(seconds * 1000.0));
  }

  std::vector<YAML::Node> list(const std::string& field) const {
    std::vector<YAML::Node> out;
    if (!has(field)) return out;
    YAML::Node node = get(field);
    if (!node.IsSequence()) fail(join(field), "expected a list, got " + describeKind(node));
    for (const auto& item : node) out.push_back(item);
    return out;
  }

  Message child(const std::string& field, const std::string& type, std::set<std::string> fields) const {
    return Message(get(field), join(field), type, std::move(fields));
  }

 private:
  std::string path_;
  std::string type_;
  std::map<std::string, YAML::Node> values_;
};

std::string indexPath(const std::string& path, size_t index) { return path + "[" + std::to_string(index) + "]"; }

// A google.protobuf.Any: returns the type name without the type.googleapis.com/ prefix.
std::string anyType(const YAML::Node& node, const std::string& path) {
  if (!node.IsMap()) fail(path, "expected a google.protobuf.Any (a mapping with \"@type\"), got " + describeKind(node));
  YAML::Node type = node["@type"];
  if (!type || !type.IsScalar()) fail(path + ".@type", "an Any needs \"@type\": type.googleapis.com/<message>");
  std::string url = type.Scalar();
  if (url.rfind(kTypePrefix, 0) != 0) fail(path + ".@type", "type URL '" + url + "' must start with " + kTypePrefix);
  return url.substr(strlen(kTypePrefix));
}

// YAML -> JSON the way Envoy converts YAML before parsing a Struct: quoted scalars stay strings, plain
// scalars become booleans, numbers or null where they read as such.
nlohmann::json yamlToJson(const YAML::Node& node, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      size_t i = 0;
      for (const auto& item : node) out.push_back(yamlToJson(item, indexPath(path, i++)));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& entry : node) out[entry.first.as<std::string>()] = yamlToJson(entry.second, path + "." + entry.first.as<std::string>());
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted
      if (text == "true" || text == "True" || text == "TRUE") return true;
      if (text == "false" || text == "False" || text == "FALSE") return false;
      if (text == "null" || text == "~" || text == "Null" || text == "NULL") return nullptr;
      if (!text.empty()) {
        char* end = nullptr;
        double value = strtod(text.c_str(), &end);
        bool numeric = end == text.c_str() + text.size() && text.find_first_of("xXnN") == std::string::npos;
        if (numeric && std::isfinite(value)) {
          // Struct numbers are doubles; protobuf prints integral ones without a fraction.
          if (std::fabs(value) < 9007199254740992.0 && value == std::floor(value)) return static_cast<int64_t>(value);
          return value;
        }
      }
      return text;
    }
  }
  return nullptr;
}

// DynamicModuleFilter.filter_config / DynamicModuleFilterPerRoute.filter_config -> module bytes.
std::string filterConfigBytes(const YAML::Node& node, const std::string& path) {
  std::string type = anyType(node, path);
  if (type == "google.protobuf.StringValue" || type == "google.protobuf.BytesValue") {
    Message msg(node, path, type, {"@type", "value"});
    std::string value = msg.string("value");
    if (type == "google.protobuf.StringValue") return value;
    bool ok = false;
    std::string bytes = base64Decode(value, &ok);
    if (!ok) fail(msg.join("value"), "BytesValue.value must be base64");
    return bytes;
  }
  if (type == "google.protobuf.Struct") {
    Message msg(node, path, type, {"@type", "value"});
    YAML::Node value = msg.get("value");
    if (value && !value.IsMap() && !value.IsNull()) fail(msg.join("value"), "a Struct value must be a mapping");
    nlohmann::json json = value && value.IsMap() ? yamlToJson(value, msg.join("value")) : nlohmann::json::object();
    return json.dump();
  }
  if (type == "xds.type.v3.TypedStruct" || type == "udpa.type.v1.TypedStruct") {
    Message msg(node, path, type, {"@type", "type_url", "value"});
    YAML::Node value = msg.get("value");
    nlohmann::json json = value && value.IsMap() ? yamlToJson(value, msg.join("value")) : nlohmann::json::object();
    return json.dump();
  }
  fail(path + ".@type", "filter_config of type " + type +
                            " is not supported by the dev host (use google.protobuf.Struct, StringValue, BytesValue "
                            "or xds.type.v3.TypedStruct)");
}

SocketAddressSpec parseAddress(const Message& parent, const std::string& field) {
  parent.require(field);
  Message address = parent.child(field, "envoy.config.core.v3.Address", {"socket_address"});
  address.require("socket_address");
  Message socket = address.child("socket_address", "envoy.config.core.v3.SocketAddress",
                                 {"address", "port_value", "protocol"});
  socket.require("address");
  SocketAddressSpec out;
  out.address = socket.string("address");
  out.port = static_cast<uint16_t>(socket.uint("port_value", 65535, 0));
  if (socket.has("protocol") && socket.string("protocol") != "TCP") {
    fail(socket.join("protocol"), "only TCP is supported");
  }
  return out;
}

DynamicModuleSpec parseModuleConfig(const Message& parent, const std::string& field) {
  parent.require(field);
  Message msg = parent.child(field, "envoy.extensions.dynamic_modules.v3.DynamicModuleConfig",
                             {"name", "do_not_close", "load_globally", "metrics_namespace", "module"});
  DynamicModuleSpec out;
  out.name = msg.string("name");
  out.do_not_close = msg.boolean("do_not_close", false);
  out.load_globally = msg.boolean("load_globally", false);
  out.metrics_namespace = msg.string("metrics_namespace", "dynamicmodulescustom");
  if (msg.has("module")) {
    Message source = msg.child("module", "envoy.config.core.v3.AsyncDataSource", {"local"});
    source.require("local");
    Message local = source.child("local", "envoy.config.core.v3.DataSource", {"filename"});
    local.require("filename");
    out.local_path = local.string("filename");
  } else if (out.name.empty()) {
    fail(msg.path(), "either name or module must be set");
  }
  return out;
}

PerFilterConfigSpec parsePerFilterConfig(const YAML::Node& node, const std::string& path) {
  std::string type = anyType(node, path);
  PerFilterConfigSpec out;
  if (type == kModuleFilterPerRouteType) {
    Message msg(node, path, type, {"@type", "dynamic_module_config", "per_route_config_name", "filter_name", "filter_config"});
    out.has_module_config = true;
    out.module = parseModuleConfig(msg, "dynamic_module_config");
    out.filter_name = msg.string("filter_name", msg.string("per_route_config_name"));
    if (msg.has("filter_config")) out.filter_config = filterConfigBytes(msg.get("filter_config"), msg.join("filter_config"));
    return out;
  }
  if (type == kFilterConfigType) {
    Message msg(node, path, type, {"@type", "config", "disabled", "is_optional"});
    out.disabled = msg.boolean("disabled", false);
    if (msg.has("config")) {
      PerFilterConfigSpec inner = parsePerFilterConfig(msg.get("config"), msg.join("config"));
      inner.disabled = out.disabled;
      return inner;
    }
    return out;
  }
  fail(path + ".@type", "typed_per_filter_config of type " + type + " is not supported by the dev host (use " +
                            kModuleFilterPerRouteType + " or " + kFilterConfigType + ")");
}

std::map<std::string, PerFilterConfigSpec> parsePerFilterMap(const Message& parent) {
  std::map<std::string, PerFilterConfigSpec> out;
  if (!parent.has("typed_per_filter_config")) return out;
  YAML::Node map = parent.get("typed_per_filter_config");
  std::string path = parent.join("typed_per_filter_config");
  if (!map.IsMap()) fail(path, "expected a mapping from HTTP filter name to config");
  for (const auto& entry : map) {
    std::string name = entry.first.as<std::string>();
    out[name] = parsePerFilterConfig(entry.second, path + "." + name);
  }
  return out;
}

RouteSpec parseRoute(const YAML::Node& node, const std::string& path) {
  Message msg(node, path, "envoy.config.route.v3.Route",
              {"name", "match", "route", "direct_response", "typed_per_filter_config", "metadata"});
  RouteSpec out;
  out.name = msg.string("name");
  msg.require("match");
  Message match = msg.child("match", "envoy.config.route.v3.RouteMatch", {"prefix", "path", "case_sensitive"});
  if (match.has("prefix") == match.has("path")) fail(match.path(), "exactly one of prefix or path must be set");
  if (match.has("prefix")) {
    out.match = RouteSpec::Match::Prefix;
    out.match_value = match.string("prefix");
  } else {
    out.match = RouteSpec::Match::Path;
    out.match_value = match.string("path");
  }
  out.case_sensitive = match.boolean("case_sensitive", true);
  if (msg.has("route") == msg.has("direct_response")) {
    fail(msg.path(), "exactly one of route or direct_response must be set");
  }
  if (msg.has("route")) {
    Message action = msg.child("route", "envoy.config.route.v3.RouteAction", {"cluster", "timeout", "prefix_rewrite"});
    action.require("cluster");
    out.cluster = action.string("cluster");
    out.timeout_ms = action.durationMs("timeout", 15000);
    if (action.has("prefix_rewrite")) out.prefix_rewrite = action.string("prefix_rewrite");
  } else {
    Message direct = msg.child("direct_response", "envoy.config.route.v3.DirectResponseAction", {"status", "body"});
    direct.require("status");
    out.has_direct_response = true;
    out.direct_status = static_cast<uint32_t>(direct.uint("status", 599, 0));
    if (out.direct_status < 100) fail(direct.join("status"), "must be between 100 and 599");
    if (direct.has("body")) {
      Message body = direct.child("body", "envoy.config.core.v3.DataSource", {"inline_string", "inline_bytes"});
      if (body.has("inline_bytes")) {
        bool ok = false;
        out.direct_body = base64Decode(body.string("inline_bytes"), &ok);
        if (!ok) fail(body.join("inline_bytes"), "must be base64");
      } else {
        out.direct_body = body.string("inline_string");
      }
    }
  }
  out.per_filter = parsePerFilterMap(msg);
  if (msg.has("metadata")) {
    Message metadata = msg.child("metadata", "envoy.config.core.v3.Metadata", {"filter_metadata"});
    YAML::Node namespaces = metadata.get("filter_metadata");
    if (namespaces && !namespaces.IsMap()) fail(metadata.join("filter_metadata"), "expected a mapping");
    for (const auto& ns : namespaces) {
      std::string ns_name = ns.first.as<std::string>();
      std::string ns_path = metadata.join("filter_metadata") + "." + ns_name;
      if (!ns.second.IsMap()) fail(ns_path, "expected a Struct (a mapping)");
      for (const auto& kv : ns.second) {
        out.metadata_json[ns_name][kv.first.as<std::string>()] =
            yamlToJson(kv.second, ns_path + "." + kv.first.as<std::string>()).dump();
      }
    }
  }
  return out;
}

VirtualHostSpec parseVirtualHost(const YAML::Node& node, const std::string& path) {
  Message msg(node, path, "envoy.config.route.v3.VirtualHost", {"name", "domains", "routes", "typed_per_filter_config"});
  msg.require("name");
  msg.require("domains");
  VirtualHostSpec out;
  out.name = msg.string("name");
  size_t i = 0;
  for (const auto& domain : msg.list("domains")) {
    if (!domain.IsScalar()) fail(indexPath(msg.join("domains"), i), "expected a string");
    out.domains.push_back(domain.Scalar());
    i++;
  }
  if (out.domains.empty()) fail(msg.join("domains"), "must have at least one domain");
  i = 0;
  for (const auto& route : msg.list("routes")) out.routes.push_back(parseRoute(route, indexPath(msg.join("routes"), i++)));
  out.per_filter = parsePerFilterMap(msg);
  return out;
}

DynamicModuleFilterSpec parseModuleFilter(const YAML::Node& typed_config, const std::string& path) {
  Message msg(typed_config, path, kModuleFilterType,
              {"@type", "dynamic_module_config", "filter_name", "filter_config", "terminal_filter"});
  DynamicModuleFilterSpec out;
  out.module = parseModuleConfig(msg, "dynamic_module_config");
  out.filter_name = msg.string("filter_name");
  if (msg.has("filter_config")) out.filter_config = filterConfigBytes(msg.get("filter_config"), msg.join("filter_config"));
  out.terminal_filter = msg.boolean("terminal_filter", false);
  return out;
}

// envoy.config.core.v3.Http1ProtocolOptions: only enable_trailers. Returns its value.
bool parseHttp1Options(const Message& parent, const std::string& field) {
  if (!parent.has(field)) return false;
  Message options = parent.child(field, "envoy.config.core.v3.Http1ProtocolOptions", {"enable_trailers"});
  return options.boolean("enable_trailers", false);
}

HttpConnectionManagerSpec parseHcm(const YAML::Node& node, const std::string& path) {
  Message msg(node, path, kHcmType,
              {"@type", "stat_prefix", "codec_type", "route_config", "http_filters", "generate_request_id",
               "server_name", "http_protocol_options"});
  msg.require("stat_prefix");
  msg.require("route_config");
  HttpConnectionManagerSpec out;
  out.stat_prefix = msg.string("stat_prefix");
  if (msg.has("codec_type")) {
    std::string codec = msg.string("codec_type");
    if (codec != "AUTO" && codec != "HTTP1") fail(msg.join("codec_type"), "the dev host speaks HTTP/1.1 only (AUTO or HTTP1)");
  }
  out.generate_request_id = msg.boolean("generate_request_id", true);
  out.server_name = msg.string("server_name", "envoy");
  out.http1_enable_trailers = parseHttp1Options(msg, "http_protocol_options");
  Message route_config = msg.child("route_config", "envoy.config.route.v3.RouteConfiguration", {"name", "virtual_hosts"});
  out.route_config_name = route_config.string("name");
  size_t i = 0;
  for (const auto& vh : route_config.list("virtual_hosts")) {
    out.virtual_hosts.push_back(parseVirtualHost(vh, indexPath(route_config.join("virtual_hosts"), i++)));
  }
  std::vector<YAML::Node> filters = msg.list("http_filters");
  std::set<std::string> names;
  for (i = 0; i < filters.size(); i++) {
    std::string fpath = indexPath(msg.join("http_filters"), i);
    Message filter(filters[i], fpath, "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter",
                   {"name", "typed_config", "disabled", "is_optional"});
    filter.require("name");
    filter.require("typed_config");
    std::string name = filter.string("name");
    if (!names.insert(name).second) fail(filter.join("name"), "duplicate HTTP filter name '" + name + "'");
    std::string type = anyType(filter.get("typed_config"), filter.join("typed_config"));
    bool last = i + 1 == filters.size();
    if (type == kRouterType) {
      Message(filter.get("typed_config"), filter.join("typed_config"), kRouterType, {"@type"});
      if (!last) {
        fail(fpath, "terminal filter named " + name +
                        " of type envoy.filters.http.router must be the last filter in a http filter chain.");
      }
      out.router_present = true;
    } else if (type == kModuleFilterType) {
      DynamicModuleFilterSpec spec = parseModuleFilter(filter.get("typed_config"), filter.join("typed_config"));
      spec.instance_name = name;
      spec.disabled = filter.boolean("disabled", false);
      if (spec.terminal_filter && !last) {
        fail(fpath, "terminal filter named " + name + " must be the last filter in a http filter chain.");
      }
      if (!spec.terminal_filter && last) {
        fail(fpath, "non-terminal filter named " + name + " of type " + kModuleFilterType +
                        " is the last filter in a http filter chain.");
      }
      out.module_filters.push_back(std::move(spec));
    } else {
      fail(filter.join("typed_config") + ".@type",
           "HTTP filter type " + type + " is not supported by the dev host (use " + kModuleFilterType + " or " +
               kRouterType + ")");
    }
  }
  if (filters.empty()) fail(msg.join("http_filters"), "the chain needs at least a terminal filter (envoy.filters.http.router)");
  return out;
}

ListenerSpec parseListener(const YAML::Node& node, const std::string& path) {
  Message msg(node, path, "envoy.config.listener.v3.Listener",
              {"name", "address", "filter_chains", "per_connection_buffer_limit_bytes"});
  msg.require("name");
  ListenerSpec out;
  out.name = msg.string("name");
  out.address = parseAddress(msg, "address");
  out.per_connection_buffer_limit_bytes =
      static_cast<uint32_t>(msg.uint("per_connection_buffer_limit_bytes", UINT32_MAX, 1024 * 1024));
  std::vector<YAML::Node> chains = msg.list("filter_chains");
  if (chains.size() != 1) fail(msg.join("filter_chains"), "the dev host needs exactly one filter chain");
  Message chain(chains[0], indexPath(msg.join("filter_chains"), 0), "envoy.config.listener.v3.FilterChain", {"filters", "name"});
  std::vector<YAML::Node> filters = chain.list("filters");
  if (filters.size() != 1) fail(chain.join("filters"), "the dev host needs exactly one network filter, the HTTP connection manager");
  Message filter(filters[0], indexPath(chain.join("filters"), 0), "envoy.config.listener.v3.Filter", {"name", "typed_config"});
  filter.require("typed_config");
  std::string type = anyType(filter.get("typed_config"), filter.join("typed_config"));
  if (type != kHcmType) {
    fail(filter.join("typed_config") + ".@type", "network filter " + type + " is not supported by the dev host (use " + kHcmType + ")");
  }
  out.hcm = parseHcm(filter.get("typed_config"), filter.join("typed_config"));
  return out;
}

ClusterSpec parseCluster(const YAML::Node& node, const std::string& path) {
  Message msg(node, path, "envoy.config.cluster.v3.Cluster",
              {"name", "type", "connect_timeout", "lb_policy", "load_assignment", "typed_extension_protocol_options"});
  msg.require("name");
  ClusterSpec out;
  out.name = msg.string("name");
  std::string type = msg.string("type", "EDS");
  if (type != "STATIC") fail(msg.join("type"), "the dev host supports only STATIC clusters (got " + type + ")");
  if (msg.has("lb_policy") && msg.string("lb_policy") != "ROUND_ROBIN") {
    fail(msg.join("lb_policy"), "the dev host supports only ROUND_ROBIN");
  }
  out.connect_timeout_ms = msg.durationMs("connect_timeout", 5000);
  if (msg.has("typed_extension_protocol_options")) {
    // A map from extension name to an Any; the dev host knows the upstream HTTP options only.
    static const std::string kHttpOptions = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
    YAML::Node options = msg.get("typed_extension_protocol_options");
    std::string options_path = msg.join("typed_extension_protocol_options");
    if (!options.IsMap()) fail(options_path, "expected a map from extension name to an Any, got " + describeKind(options));
    for (const auto& entry : options) {
      std::string name = entry.first.as<std::string>();
      std::string entry_path = options_path + "." + name;
      if (name != kHttpOptions) fail(entry_path, "the dev host knows only " + kHttpOptions);
      std::string type = anyType(entry.second, entry_path);
      if (type != kHttpOptions) fail(entry_path + ".@type", "expected " + kHttpOptions + ", got " + type);
      Message http(entry.second, entry_path, kHttpOptions, {"@type", "explicit_http_config"});
      http.require("explicit_http_config");  // the dev host speaks HTTP/1.1 upstream only
      Message explicit_config =
          http.child("explicit_http_config", kHttpOptions + ".ExplicitHttpConfig", {"http_protocol_options"});
      explicit_config.require("http_protocol_options");
      out.http1_enable_trailers = parseHttp1Options(explicit_config, "http_protocol_options");
    }
  }
  msg.require("load_assignment");
  Message assignment = msg.child("load_assignment", "envoy.config.endpoint.v3.ClusterLoadAssignment", {"cluster_name", "endpoints"});
  size_t i = 0;
  for (const auto& locality : assignment.list("endpoints")) {
    Message loc(locality, indexPath(assignment.join("endpoints"), i++), "envoy.config.endpoint.v3.LocalityLbEndpoints", {"lb_endpoints"});
    size_t j = 0;
    for (const auto& lb : loc.list("lb_endpoints")) {
      Message lb_endpoint(lb, indexPath(loc.join("lb_endpoints"), j++), "envoy.config.endpoint.v3.LbEndpoint", {"endpoint"});
      lb_endpoint.require("endpoint");
      Message endpoint = lb_endpoint.child("endpoint", "envoy.config.endpoint.v3.Endpoint", {"address"});
      out.endpoints.push_back(parseAddress(endpoint, "address"));
    }
  }
  return out;
}

BootstrapSpec parseBootstrap(const YAML::Node& root) {
  Message msg(root, "", "envoy.config.bootstrap.v3.Bootstrap", {"admin", "static_resources", "node"});
  BootstrapSpec out;
  if (msg.has("node")) msg.child("node", "envoy.config.core.v3.Node", {"id", "cluster"});
  if (msg.has("admin")) {
    Message admin = msg.child("admin", "envoy.config.bootstrap.v3.Admin", {"address", "access_log"});
    out.admin = parseAddress(admin, "address");
  }
  if (msg.has("static_resources")) {
    Message resources = msg.child("static_resources", "envoy.config.bootstrap.v3.Bootstrap.StaticResources", {"listeners", "clusters"});
    size_t i = 0;
    for (const auto& listener : resources.list("listeners")) {
      out.listeners.push_back(parseListener(listener, indexPath(resources.join("listeners"), i++)));
    }
    i = 0;
    for (const auto& cluster : resources.list("clusters")) {
      out.clusters.push_back(parseCluster(cluster, indexPath(resources.join("clusters"), i++)));
    }
  }
  // Cross references, checked like Envoy's route validation.
  std::set<std::string> cluster_names;
  for (size_t i = 0; i < out.clusters.size(); i++) {
    if (!cluster_names.insert(out.clusters[i].name).second) {
      fail(indexPath("static_resources.clusters", i) + ".name", "duplicate cluster name '" + out.clusters[i].name + "'");
    }
  }
  std::set<std::string> listener_names;
  for (size_t l = 0; l < out.listeners.size(); l++) {
    const auto& listener = out.listeners[l];
    if (!listener_names.insert(listener.name).second) {
      fail(indexPath("static_resources.listeners", l) + ".name", "duplicate listener name '" + listener.name + "'");
    }
    for (size_t v = 0; v < listener.hcm.virtual_hosts.size(); v++) {
      for (size_t r = 0; r < listener.hcm.virtual_hosts[v].routes.size(); r++) {
        const auto& route = listener.hcm.virtual_hosts[v].routes[r];
        if (!route.has_direct_response && !cluster_names.count(route.cluster)) {
          fail(indexPath(indexPath(indexPath("static_resources.listeners", l) +
                                        ".filter_chains[0].filters[0].typed_config.route_config.virtual_hosts", v) + ".routes", r) +
                   ".route.cluster",
               "route: unknown cluster '" + route.cluster + "'");
        }
      }
    }
  }
  return out;
}

}  // namespace

std::string base64Decode(const std::string& text, bool* ok) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] != '='; i++) {
    int v = value(text[i]);
    if (v < 0) {
      *ok = false;
      return "";
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  for (; i < text.size(); i++) {
    if (text[i] != '=') {
      *ok = false;
      return "";
    }
  }
  *ok = true;
  return out;
}

BootstrapSpec loadBootstrapYaml(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("invalid YAML: ") + e.what());
  }
  try {
    return parseBootstrap(root);
  } catch (const YAML::Exception& e) {
    throw ConfigError(std::string("invalid configuration: ") + e.what());
  }
}

BootstrapSpec loadBootstrapFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return loadBootstrapYaml(buffer.str());
}

}  // namespace devhost
