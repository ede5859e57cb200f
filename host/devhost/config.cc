#include "config.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <climits>
#include <cstring>

#include "envoy_version.h"
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

std::string HeaderMapLower(const std::string& name) {
  std::string out = name;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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

  // As Envoy reads bootstrap YAML: an unquoted YAML 1.1 boolean (true, yes, on, y, ... and their negations).
  bool boolean(const std::string& field, bool fallback) const {
    if (!has(field)) return fallback;
    YAML::Node node = get(field);
    bool value;
    if (node.IsScalar() && node.Tag() != "!" && YAML::convert<bool>::decode(node, value)) return value;
    fail(join(field), "expected true or false, got " + describeKind(node));
  }

  uint64_t uint(const std::string& field, uint64_t max, uint64_t fallback) const {
    if (!has(field)) return fallback;
    YAML::Node node = get(field);
    // Envoy reads the integer as parseYamlNode does (decimal, 0x hex, 0 octal), and protobuf's JSON
    // parser also takes an integer given as a (quoted) decimal string.
    int64_t value = -1;
    bool ok = node.IsScalar() && YAML::convert<int64_t>::decode(node, value);
    if (!ok && node.IsScalar() && !node.Scalar().empty() && node.Scalar().find_first_not_of("0123456789") == std::string::npos) {
      errno = 0;
      unsigned long long parsed = strtoull(node.Scalar().c_str(), nullptr, 10);
      ok = errno == 0 && parsed <= static_cast<unsigned long long>(INT64_MAX);
      value = ok ? static_cast<int64_t>(parsed) : -1;
    }
    if (!ok || value < 0) fail(join(field), "expected a non-negative integer, got " + describeKind(node));
    if (static_cast<uint64_t>(value) > max) {
      fail(join(field), "value " + node.Scalar() + " is out of range (max " + std::to_string(max) + ")");
    }
    return static_cast<uint64_t>(value);
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

// A YAML plain scalar as Envoy's parseYamlNode (source/common/protobuf/yaml_utility.cc) reads it:
// YAML 1.1 booleans (y, yes, on, true, ... in any of yaml-cpp's spellings), then 64-bit integers
// (decimal, 0x hex, 0 octal) of which only the int32 range becomes a number and larger ones the
// decimal string, and everything else, floats included, a string. yaml-cpp's own conversions are
// used, as Envoy does. (A later Envoy change, PR #46833, unreleased, may turn !!float into numbers.)
nlohmann::json yamlScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted
  bool flag;
  if (YAML::convert<bool>::decode(node, flag)) return flag;
  int64_t integer;
  if (YAML::convert<int64_t>::decode(node, integer)) {
    if (integer >= INT32_MIN && integer <= INT32_MAX) return integer;
    return std::to_string(integer);
  }
  return text;
}

// YAML -> the google.protobuf.Value tree Envoy builds from bootstrap YAML (as JSON): null, the
// scalars above, lists, and maps (keys tagged !ignore are left out).
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
      for (const auto& entry : node) {
        if (entry.first.Tag() == "!ignore") continue;
        const std::string key = entry.first.as<std::string>();
        out[key] = yamlToJson(entry.second, path + "." + key);
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      return yamlScalar(node);
  }
  return nullptr;
}

// ---- Protobuf wire format of google.protobuf.Struct/Value/ListValue and TypedStruct ----------------
// Envoy hands a module the Any's serialized bytes for config types it does not convert to JSON
// (TypedStruct before v1.40; any per-route Struct in v1.38). Map entries are written in key order;
// protobuf leaves their order unspecified.

void putVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void putTag(std::string& out, uint32_t field, uint32_t wire_type) { putVarint(out, (uint64_t(field) << 3) | wire_type); }

void putBytes(std::string& out, uint32_t field, const std::string& bytes) {
  putTag(out, field, 2);
  putVarint(out, bytes.size());
  out += bytes;
}

std::string structBytes(const nlohmann::json& object);

std::string valueBytes(const nlohmann::json& value) {
  std::string out;
  if (value.is_null()) {
    putTag(out, 1, 0);  // null_value: NULL_VALUE (0); a oneof member is written even when 0
    putVarint(out, 0);
  } else if (value.is_number()) {
    putTag(out, 2, 1);  // number_value: fixed64 double, little-endian
    double number = value.get<double>();
    uint64_t bits;
    memcpy(&bits, &number, sizeof(bits));
    for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  } else if (value.is_string()) {
    putBytes(out, 3, value.get<std::string>());
  } else if (value.is_boolean()) {
    putTag(out, 4, 0);
    putVarint(out, value.get<bool>() ? 1 : 0);
  } else if (value.is_object()) {
    putBytes(out, 5, structBytes(value));
  } else if (value.is_array()) {
    std::string list;
    for (const auto& item : value) putBytes(list, 1, valueBytes(item));
    putBytes(out, 6, list);
  }
  return out;
}

std::string structBytes(const nlohmann::json& object) {
  std::string out;
  for (const auto& [key, value] : object.items()) {
    std::string entry;
    putBytes(entry, 1, key);
    putBytes(entry, 2, valueBytes(value));
    putBytes(out, 1, entry);
  }
  return out;
}

// DynamicModuleFilter.filter_config / DynamicModuleFilterPerRoute.filter_config -> module bytes
// (Envoy's knownAnyToBytes; for a v1.38 per-route config, anyToBytes).
std::string filterConfigBytes(const YAML::Node& node, const std::string& path, bool per_route) {
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
    // Envoy v1.38 converts a per-route config with anyToBytes: the Struct's serialized proto bytes.
    if (per_route && envoyVersion() == EnvoyVersion::V1_38) return structBytes(json);
    return json.dump();
  }
  if (type == "xds.type.v3.TypedStruct" || type == "udpa.type.v1.TypedStruct") {
    Message msg(node, path, type, {"@type", "type_url", "value"});
    YAML::Node value = msg.get("value");
    if (value && !value.IsMap() && !value.IsNull()) fail(msg.join("value"), "a TypedStruct value must be a mapping");
    nlohmann::json json = value && value.IsMap() ? yamlToJson(value, msg.join("value")) : nlohmann::json::object();
    // Envoy v1.40 passes an xds.type.v3.TypedStruct's value as JSON; earlier releases, and the udpa
    // variant, pass the Any's raw bytes (the serialized TypedStruct).
    if (type == "xds.type.v3.TypedStruct" && envoyAtLeast(EnvoyVersion::V1_40)) return json.dump();
    std::string bytes;
    const std::string type_url = msg.string("type_url");
    if (!type_url.empty()) putBytes(bytes, 1, type_url);
    if (msg.has("value")) putBytes(bytes, 2, structBytes(json));
    return bytes;
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
    if (msg.has("filter_config")) {
      out.filter_config = filterConfigBytes(msg.get("filter_config"), msg.join("filter_config"), /*per_route=*/true);
    }
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
  if (msg.has("filter_config")) {
    out.filter_config = filterConfigBytes(msg.get("filter_config"), msg.join("filter_config"), /*per_route=*/false);
  }
  out.terminal_filter = msg.boolean("terminal_filter", false);
  return out;
}

// envoy.config.core.v3.Http1ProtocolOptions: only enable_trailers. Returns its value.
struct Http1Options {
  bool enable_trailers = false;
  bool accept_http_10 = false;
};

Http1Options parseHttp1Options(const Message& parent, const std::string& field) {
  Http1Options out;
  if (!parent.has(field)) return out;
  Message options = parent.child(field, "envoy.config.core.v3.Http1ProtocolOptions", {"enable_trailers", "accept_http_10"});
  out.enable_trailers = options.boolean("enable_trailers", false);
  out.accept_http_10 = options.boolean("accept_http_10", false);
  return out;
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
  const Http1Options http1 = parseHttp1Options(msg, "http_protocol_options");
  out.http1_enable_trailers = http1.enable_trailers;
  out.http1_accept_http_10 = http1.accept_http_10;
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
      out.http1_enable_trailers = parseHttp1Options(explicit_config, "http_protocol_options").enable_trailers;
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
  Message msg(root, "", "envoy.config.bootstrap.v3.Bootstrap", {"admin", "static_resources", "node", "inline_headers"});
  BootstrapSpec out;
  if (msg.has("node")) msg.child("node", "envoy.config.core.v3.Node", {"id", "cluster"});
  size_t h = 0;
  for (const auto& item : msg.list("inline_headers")) {
    Message header(item, indexPath(msg.join("inline_headers"), h++), "envoy.config.bootstrap.v3.CustomInlineHeader",
                   {"inline_header_name", "inline_header_type"});
    header.require("inline_header_name");
    InlineHeaderSpec spec;
    spec.name = header.string("inline_header_name");
    const std::string type = header.string("inline_header_type", "REQUEST_HEADER");
    if (type == "REQUEST_HEADER") {
      spec.type = InlineHeaderSpec::Type::RequestHeader;
    } else if (type == "REQUEST_TRAILER") {
      spec.type = InlineHeaderSpec::Type::RequestTrailer;
    } else if (type == "RESPONSE_HEADER") {
      spec.type = InlineHeaderSpec::Type::ResponseHeader;
    } else if (type == "RESPONSE_TRAILER") {
      spec.type = InlineHeaderSpec::Type::ResponseTrailer;
    } else {
      fail(header.join("inline_header_type"),
           "expected REQUEST_HEADER, REQUEST_TRAILER, RESPONSE_HEADER or RESPONSE_TRAILER, got '" + type + "'");
    }
    if (spec.name.empty() || spec.name[0] == ':' || spec.name != HeaderMapLower(spec.name)) {
      fail(header.join("inline_header_name"), "must be a non-empty lower-case header name that is not a pseudo-header");
    }
    out.inline_headers.push_back(std::move(spec));
  }
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
