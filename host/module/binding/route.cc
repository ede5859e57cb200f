// Per-route config binding function (issue 10). W.
#include "binding.h"
#include "envoy_api.h"
#include "filter_config.h"
#include "route_config.h"
#include "stream.h"

namespace nodevoy::binding {

// (token) -> [id, configJson] of the most specific per-route config for this filter, or undefined.
Napi::Value routeConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = streamOf(info, "routeConfig");
  if (stream == nullptr) return env.Undefined();
  if (envoy.get_most_specific_route_config == nullptr) return env.Undefined();
  const auto* route = static_cast<const RouteConfig*>(envoy.get_most_specific_route_config(stream->envoyFilter()));
  if (route == nullptr) return env.Undefined();
  const FilterConfig& config = stream->config();
  if (route->bundle_path != config.bundlePath() ||
      (!route->filter_name.empty() && !config.filterName().empty() && route->filter_name != config.filterName())) {
    return throwCoded(env, "NodevoyError", "NODEVOY_ERR_INVALID_STATE",
                      "routeConfig: the route's per-route config '" + route->envoy_name + "' was checked for filter '" +
                          route->filter_name + "' of " + route->bundle_path + ", but this stream runs filter '" +
                          config.filterName() + "' of " + config.bundlePath() +
                          "; give the per-route config the bundle and filter of this HTTP filter");
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(route->id)));
  out.Set(1u, Napi::String::New(env, route->config_json));
  return out;
}

}  // namespace nodevoy::binding
