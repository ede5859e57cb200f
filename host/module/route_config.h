// A per-route nodevoy config (the ABI's per_route_config_module_ptr): the route's own config for
// one filter, validated by that filter's routeConfig schema when Envoy loads the route, and merged
// with the filter's config by the filter's mergeRouteConfig in each environment, on first use.
//
// It holds no V8 handle: the merged objects live in each environment's SDK, keyed by the route
// config's id (ids are never reused), so destroying one — which Envoy may do on any thread (a
// worker on a route-table swap before v1.40) — only frees this plain object.
//
// Threads: created on M (per_route_config_new); read on workers while Envoy's route holds it;
// destroyed on any thread (A).
#pragma once

#include <cstdint>
#include <string>

namespace nodevoy {

struct RouteConfig {
  uint64_t id = 0;
  std::string envoy_name;   // the per-route filter_name Envoy passed
  std::string bundle_path;  // the bundle and filter it configures
  std::string filter_name;
  std::string config_json;  // the route's config, validated
};

// M. Parses the per-route filter_config ({"config": {...}, "bundle"?, "filter"?}: JSON, or on Envoy
// v1.38 a Struct's protobuf bytes, see struct_json.h), finds the filter
// (the given bundle, else the live filter config named `name`), validates the route's config with
// it in the validation environment. Null with *error naming the field when refused.
RouteConfig* createRouteConfig(const std::string& name, const std::string& bytes, std::string* error);

// A.
void destroyRouteConfig(const RouteConfig* config);

}  // namespace nodevoy
