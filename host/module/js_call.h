// Every call from C++ into JS (raw V8 under the isolate lock, L), and the N-API → V8 value cast.
// Exceptions thrown by JS are caught here and logged; none escapes into Envoy.
#pragma once

#include <node.h>  // before node_api.h, so NAPI_VERSION comes from the embedded Node
#include <node_api.h>
#include <v8.h>

#include <cstdint>
#include <memory>
#include <string>

namespace nodevoy {

class WorkerEnv;
class Stream;
struct FilterInstance;

// L (the stream's worker). The stream's instance.dispatch(kind, slot, generation, endOfStream) → the
// hook's action (contract::Action); kError when dispatch itself threw or ran over the config's CPU
// budget (logged with filter, hook and stream; the environment goes on), or the environment is dead.
// Slot and generation rather than the token: both are small integers (V8 Smis), so a call allocates
// nothing whatever the token has grown to.
int callDispatch(Stream& stream, int kind, bool end_of_stream);

// L. Loads the bundle in env and instantiates its filter for this config; "" on success, else why.
std::string instantiateFilter(WorkerEnv& env, const std::string& bundle_path, const std::string& filter_name,
                              const std::string& config_json, uint32_t config_id, const std::string& envoy_name,
                              uint32_t settle_timeout_ms, std::unique_ptr<FilterInstance>* out);

// L. Loads the bundle in env and checks a route's config with the filter's routeConfig schema (issue
// 10, per-route config); "" when valid, else why (the field path first).
std::string validateRouteConfig(WorkerEnv& env, const std::string& bundle_path, const std::string& filter_name,
                                const std::string& route_json);

// L. instance.dispose() (the filter's onDestroy); a throw is logged.
void callDispose(WorkerEnv& env, const FilterInstance& instance);

// In Node, a napi_value is a v8::Local<v8::Value> (v8impl::V8LocalValueFromJsValue).
v8::Local<v8::Value> toV8(napi_value value);

}  // namespace nodevoy
