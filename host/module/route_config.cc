#include "route_config.h"

#include <atomic>

#include <nlohmann/json.hpp>

#include "config_registry.h"
#include "filter_config.h"
#include "js_call.h"
#include "node_runtime.h"
#include "struct_json.h"
#include "worker_env.h"

namespace nodevoy {

namespace {
std::atomic<uint64_t> g_next_route_config_id{1};
}  // namespace

RouteConfig* createRouteConfig(const std::string& name, const std::string& bytes, std::string* error) {
  // Envoy v1.38 passes a per-route Struct as its protobuf bytes, later releases as JSON (struct_json.h).
  std::string text;
  if (!configBytesAsJson(bytes, &text, error)) return nullptr;
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    *error = std::string("filter_config is not JSON (use a google.protobuf.Struct, or a StringValue holding JSON): ") +
             e.what();
    return nullptr;
  }
  if (!parsed.is_object()) {
    *error = "filter_config must be an object: {\"config\": {...the route's config...}}";
    return nullptr;
  }
  for (const auto& [key, value] : parsed.items()) {
    if (key != "config" && key != "bundle" && key != "filter") {
      *error = "filter_config." + key + ": unknown field (expected config, bundle, filter)";
      return nullptr;
    }
  }
  if (!parsed.contains("config")) {
    *error = "filter_config.config: required, the route's config for the filter (checked by its routeConfig schema)";
    return nullptr;
  }
  auto route = std::make_unique<RouteConfig>();
  route->envoy_name = name;
  route->config_json = parsed["config"].dump();
  if (parsed.contains("bundle")) {
    if (!parsed["bundle"].is_string() || parsed["bundle"].get<std::string>().empty() ||
        parsed["bundle"].get<std::string>()[0] != '/') {
      *error = "filter_config.bundle: must be the absolute path of the bundle that `nodevoy build` wrote";
      return nullptr;
    }
    route->bundle_path = parsed["bundle"].get<std::string>();
    if (parsed.contains("filter")) {
      if (!parsed["filter"].is_string()) {
        *error = "filter_config.filter: must be a string, the name given to defineFilter()";
        return nullptr;
      }
      route->filter_name = parsed["filter"].get<std::string>();
    }
  } else {
    // The filter config this route config belongs to, by the filter_name they share.
    auto owner = latestConfigNamed(name);
    if (!owner) {
      *error = "no nodevoy filter config named '" + name + "' is loaded (loaded: " + liveConfigNames() +
               "): the per-route filter_name must equal the filter_name of the nodevoy HTTP filter it configures, "
               "or give filter_config.bundle (and .filter) when routes load before that filter";
      return nullptr;
    }
    if (parsed.contains("filter")) {
      *error = "filter_config.filter: give it together with filter_config.bundle, or leave both out";
      return nullptr;
    }
    route->bundle_path = owner->bundlePath();
    route->filter_name = owner->filterName();
  }
  NodeRuntime& runtime = NodeRuntime::instance();
  WorkerEnv* validation = runtime.configEnv(error);
  if (validation == nullptr) return nullptr;
  std::string problem;
  validation->runBlocking(
      [&] { problem = validateRouteConfig(*validation, route->bundle_path, route->filter_name, route->config_json); });
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  route->id = g_next_route_config_id.fetch_add(1);
  return route.release();
}

void destroyRouteConfig(const RouteConfig* config) { delete config; }

}  // namespace nodevoy
