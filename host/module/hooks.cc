// The Envoy dynamic-module hooks libnodevoy exports: trampolines only — each finds its Stream (or
// config) and calls one method. Every entry is noexcept and catches everything: no exception crosses
// extern "C", and an unexpected failure fails the request closed (or open, if configured), never the
// proxy.
#include <dlfcn.h>

#include <cstdio>

#include "callouts.h"
#include "contract.gen.h"
#include "envoy_api.h"
#include "filter_config.h"
#include "isolation.h"
#include "log.h"
#include "node_runtime.h"
#include "route_config.h"
#include "stream.h"
#include "worker_env.h"

#define NV_EXPORT extern "C" __attribute__((visibility("default")))

using namespace nodevoy;
using contract::HookKind;

namespace {

Stream* streamOf(nv_filter_module_ptr fm) { return static_cast<Stream*>(const_cast<void*>(fm)); }

// The stream whose filter could not be created answers 500 on its first hook.
template <class Status>
Status answerFailed(nv_filter_envoy_ptr fe, HookKind kind, Status go_on, Status stop) {
  if (kind != contract::kRequestHeaders) return go_on;
  static const char kDetails[] = "nodevoy_filter_init_failed";
  envoy.http_send_response(fe, 500, nullptr, 0, nv_module_buffer{nullptr, 0},
                           nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  return stop;
}

// W. One stream hook: the Stream enters the environment itself when JS may run.
template <class Status, class Call>
Status streamHook(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm, HookKind kind, Status go_on, Status stop, Call call) {
  Stream* stream = streamOf(fm);
  if (stream->isFailedSentinel()) return answerFailed(fe, kind, go_on, stop);
  try {
    return call(*stream);
  } catch (...) {
    return stream->failUnexpectedly(contract::hook(kind).direction) ? stop : go_on;
  }
}

// The ABI version string the running Envoy expects (so it does not warn "deprecated, recompile" on
// every load): v1.40 introduced log_v2 together with "v0.2.0"; v1.38 and v1.39 expect "v0.1.0".
const char* abiVersionForRunningEnvoy() { return envoy.log_v2 != nullptr ? NV_ABI_VERSION_V1_40 : NV_ABI_VERSION_V1_38; }

// Keeps libnodevoy mapped for the life of the process, whatever the config says about do_not_close:
// V8's platform threads and the environments' pollers run our code until exit.
bool pinSelf(std::string* problem) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&abiVersionForRunningEnvoy), &info) == 0 || info.dli_fname == nullptr) {
    *problem = "cannot find libnodevoy's own file (dladdr)";
    return false;
  }
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr) {
    *problem = std::string("cannot pin ") + info.dli_fname + ": " + dlerror();
    return false;
  }
  return true;
}

}  // namespace

// ---- Program and config (main thread) ------------------------------------------------------------

NV_EXPORT const char* envoy_dynamic_module_on_program_init() noexcept {
  try {
    std::string missing;
    if (!resolveEnvoyApi(&missing)) {
      fprintf(stderr, "nodevoy: the host process does not export %s; this Envoy is too old for libnodevoy (needs v1.38+)\n",
              missing.c_str());
      return nullptr;
    }
    std::string problem;
    if (!checkSymbolIsolation(&problem)) {
      NV_ERROR("nodevoy: refusing to load: %s", problem.c_str());
      return nullptr;
    }
    if (!pinSelf(&problem)) {
      NV_ERROR("nodevoy: refusing to load: %s", problem.c_str());
      return nullptr;
    }
    std::string error;
    if (!NodeRuntime::instance().initialize(&error)) {
      NV_ERROR("nodevoy: %s", error.c_str());
      return nullptr;
    }
    return abiVersionForRunningEnvoy();
  } catch (const std::exception& e) {
    fprintf(stderr, "nodevoy: program init failed: %s\n", e.what());
    return nullptr;
  } catch (...) {
    return nullptr;
  }
}

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) noexcept {
  std::string filter_name(name.ptr ? name.ptr : "", name.length);
  try {
    NodeRuntime& runtime = NodeRuntime::instance();
    std::string error;
    uint32_t workers = envoy.get_concurrency();
    if (!runtime.ensureEnvs(workers == 0 ? 1 : workers, &error)) {
      NV_ERROR("nodevoy: filter config '%s' refused: %s", filter_name.c_str(), error.c_str());
      return nullptr;
    }
    auto created = FilterConfig::create(config_envoy, filter_name, std::string(config.ptr ? config.ptr : "", config.length),
                                        &error);
    if (!created) {
      NV_ERROR("nodevoy: filter config '%s' refused: %s", filter_name.c_str(), error.c_str());
      return nullptr;
    }
    NV_INFO("nodevoy: filter config '%s' ready on %u workers", filter_name.c_str(), runtime.envCount());
    return new std::shared_ptr<FilterConfig>(std::move(created));
  } catch (const std::exception& e) {
    NV_ERROR("nodevoy: filter config '%s' refused: %s", filter_name.c_str(), e.what());
    return nullptr;
  } catch (...) {
    NV_ERROR("nodevoy: filter config '%s' refused: unexpected error", filter_name.c_str());
    return nullptr;
  }
}

// Any thread: Envoy runs this wherever the last reference to the config drops (a worker, after an
// LDS/ECDS update with streams in flight). It only unloads the config's instances; environments
// live on (node_runtime.h).
NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) noexcept {
  try {
    auto* holder = static_cast<std::shared_ptr<FilterConfig>*>(const_cast<void*>(config_module));
    (*holder)->unload();
    delete holder;
  } catch (...) {
    NV_ERROR("nodevoy: config destroy failed");
  }
}

// M: Envoy loads a route with this filter's typed_per_filter_config (route_config.h).
NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(
    nv_envoy_buffer name, nv_envoy_buffer config) noexcept {
  std::string route_name(name.ptr ? name.ptr : "", name.length);
  try {
    std::string error;
    RouteConfig* created =
        createRouteConfig(route_name, std::string(config.ptr ? config.ptr : "", config.length), &error);
    if (created == nullptr) NV_ERROR("nodevoy: per-route config '%s' refused: %s", route_name.c_str(), error.c_str());
    return created;
  } catch (const std::exception& e) {
    NV_ERROR("nodevoy: per-route config '%s' refused: %s", route_name.c_str(), e.what());
    return nullptr;
  } catch (...) {
    NV_ERROR("nodevoy: per-route config '%s' refused: unexpected error", route_name.c_str());
    return nullptr;
  }
}

// Any thread (a worker on a route-table swap before Envoy v1.40): frees plain memory only.
NV_EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(nv_route_config_module_ptr config) noexcept {
  destroyRouteConfig(static_cast<const RouteConfig*>(config));
}

// ---- Streams (worker thread) -----------------------------------------------------------------------

NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                                       nv_filter_envoy_ptr filter_envoy) noexcept {
  try {
    auto& config = *static_cast<const std::shared_ptr<FilterConfig>*>(config_module);
    uint32_t index = envoy.http_filter_get_worker_index(filter_envoy);
    NodeRuntime& runtime = NodeRuntime::instance();
    runtime.reapRetired(index);
    WorkerEnv* env = runtime.envForStream(index);
    if (env == nullptr) {
      NV_ERROR("nodevoy: no Node environment for worker %u; answering 500", index);
      return Stream::failedSentinel();
    }
    if (!env->adopt()) return Stream::failedSentinel();
    // The common case needs no isolate: the instance was loaded at config time.
    FilterInstance* instance = config->cachedInstance(index);
    if (instance == nullptr) {
      env->enterFromWorker();
      instance = config->loadInstance(*env);
      Stream* stream = instance ? env->newStream(config, instance, filter_envoy) : nullptr;
      env->leaveFromWorker();
      return stream ? stream : Stream::failedSentinel();
    }
    Stream* stream = env->newStream(config, instance, filter_envoy);
    return stream ? stream : Stream::failedSentinel();
  } catch (...) {
    NV_ERROR("nodevoy: creating the stream failed; answering 500");
    return Stream::failedSentinel();
  }
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr fe,
                                                                                nv_filter_module_ptr fm,
                                                                                bool end_of_stream) noexcept {
  return streamHook(fe, fm, contract::kRequestHeaders, NV_HEADERS_CONTINUE, NV_HEADERS_STOP_ITERATION,
                    [&](Stream& s) { return s.onHeaders(contract::kRequestHeaders, end_of_stream); });
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_request_body(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm,
                                                                          bool end_of_stream) noexcept {
  return streamHook(fe, fm, contract::kRequestBody, NV_BODY_CONTINUE, NV_BODY_STOP_ITERATION_NO_BUFFER,
                    [&](Stream& s) { return s.onBody(contract::kRequestBody, end_of_stream); });
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(nv_filter_envoy_ptr fe,
                                                                                  nv_filter_module_ptr fm) noexcept {
  return streamHook(fe, fm, contract::kRequestTrailers, NV_TRAILERS_CONTINUE, NV_TRAILERS_STOP_ITERATION,
                    [&](Stream& s) { return s.onTrailers(contract::kRequestTrailers); });
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_response_headers(nv_filter_envoy_ptr fe,
                                                                                 nv_filter_module_ptr fm,
                                                                                 bool end_of_stream) noexcept {
  return streamHook(fe, fm, contract::kResponseHeaders, NV_HEADERS_CONTINUE, NV_HEADERS_STOP_ITERATION,
                    [&](Stream& s) { return s.onHeaders(contract::kResponseHeaders, end_of_stream); });
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_response_body(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm,
                                                                           bool end_of_stream) noexcept {
  return streamHook(fe, fm, contract::kResponseBody, NV_BODY_CONTINUE, NV_BODY_STOP_ITERATION_NO_BUFFER,
                    [&](Stream& s) { return s.onBody(contract::kResponseBody, end_of_stream); });
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(nv_filter_envoy_ptr fe,
                                                                                   nv_filter_module_ptr fm) noexcept {
  return streamHook(fe, fm, contract::kResponseTrailers, NV_TRAILERS_CONTINUE, NV_TRAILERS_STOP_ITERATION,
                    [&](Stream& s) { return s.onTrailers(contract::kResponseTrailers); });
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm) noexcept {
  streamHook(fe, fm, contract::kStreamComplete, 0, 0, [](Stream& s) {
    s.onComplete();
    return 0;
  });
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr fm) noexcept {
  Stream* stream = streamOf(fm);
  if (stream->isFailedSentinel()) return;
  try {
    forgetCallouts(*stream);  // Envoy cancels them without events
    WorkerEnv& env = stream->env();
    env.destroyStream(stream);
    if (env.dead()) NodeRuntime::instance().reapRetired(env.index());  // may free env
  } catch (...) {
  }
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_scheduled(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                             uint64_t event_id) noexcept {
  Stream* stream = streamOf(fm);
  if (stream->isFailedSentinel() || !stream->alive()) return;
  WorkerEnv& env = stream->env();
  if (env.dead()) {
    // Never enter a dead environment (its worker may hold its replacement's isolate): answer.
    stream->abandon();
    return;
  }
  env.enterFromWorker();  // continuing may run our hooks again, nested
  try {
    stream->onScheduled(event_id);
  } catch (...) {
    NV_ERROR("nodevoy: scheduled event failed");
  }
  env.leaveFromWorker();
}

// ---- Callouts through Envoy clusters (worker thread; callouts.h) -------------------------------------

namespace {
template <class Call>
void calloutHook(nv_filter_module_ptr fm, Call call) {
  Stream* stream = streamOf(fm);
  if (stream->isFailedSentinel() || !stream->alive()) return;
  try {
    call(*stream);
  } catch (...) {
    NV_ERROR("nodevoy: a callout event failed");
  }
}
}  // namespace

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                                     uint64_t id, nv_http_callout_result result,
                                                                     nv_envoy_header* headers, size_t headers_size,
                                                                     nv_envoy_buffer* chunks, size_t chunks_size) noexcept {
  calloutHook(fm, [&](Stream& s) { onCalloutDone(s, id, result, headers, headers_size, chunks, chunks_size); });
}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                                       uint64_t id, nv_envoy_header* headers,
                                                                       size_t size, bool end_stream) noexcept {
  calloutHook(fm, [&](Stream& s) { onHttpStreamHeaders(s, id, headers, size, end_stream); });
}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                                    uint64_t id, const nv_envoy_buffer* data,
                                                                    size_t count, bool end_stream) noexcept {
  calloutHook(fm, [&](Stream& s) { onHttpStreamData(s, id, data, count, end_stream); });
}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                                        uint64_t id, nv_envoy_header* trailers,
                                                                        size_t size) noexcept {
  calloutHook(fm, [&](Stream& s) { onHttpStreamTrailers(s, id, trailers, size); });
}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                                        uint64_t id) noexcept {
  calloutHook(fm, [&](Stream& s) { onHttpStreamComplete(s, id); });
}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                                     uint64_t id,
                                                                     nv_http_stream_reset_reason reason) noexcept {
  calloutHook(fm, [&](Stream& s) { onHttpStreamReset(s, id, reason); });
}
NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    nv_filter_envoy_ptr, nv_filter_module_ptr) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    nv_filter_envoy_ptr, nv_filter_module_ptr) noexcept {}
