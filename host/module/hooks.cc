// The Envoy dynamic-module hooks libnodevoy exports. Every entry is noexcept and catches
// everything: no exception crosses extern "C", and a failure fails the request closed (or open, if
// configured), never the proxy.
#include <cinttypes>
#include <cstdio>

#include "envoy_api.h"
#include "filter_config.h"
#include "isolation.h"
#include "log.h"
#include "runtime.h"

#define NV_EXPORT extern "C" __attribute__((visibility("default")))

using namespace nodevoy;

namespace {

const char* hookName(int kind) {
  switch (kind) {
    case kRequestHeaders: return "onRequestHeaders";
    case kRequestBody: return "onRequestBody";
    case kRequestTrailers: return "onRequestTrailers";
    case kResponseHeaders: return "onResponseHeaders";
    case kResponseBody: return "onResponseBody";
    case kResponseTrailers: return "onResponseTrailers";
    case kStreamComplete: return "onStreamComplete";
  }
  return "hook";
}

bool isRequestKind(int kind) { return kind == kRequestHeaders || kind == kRequestBody || kind == kRequestTrailers; }

bool implements(const StreamRecord* record, int kind) {
  return record->instance != nullptr && (record->instance->hooks & (1u << kind)) != 0;
}

// Worker thread, between env.enterFromWorker() and env.leaveFromWorker(). Calls the SDK's dispatch
// for one hook; returns its result (status, or kResult*).
int runHook(StreamRecord* record, int kind, bool end_of_stream) {
  WorkerEnv& env = *record->env;
  // A hook can run inside another hook of the same stream (Envoy runs stream_complete inline from
  // send_response): keep the outer hook's state.
  const int outer_kind = record->running_kind;
  const bool outer_ready = record->result_ready;
  const int outer_result = record->result;
  int result = kResultError;
  record->running_kind = kind;
  record->result_ready = false;
  {
    v8::Isolate* isolate = env.isolate();
    v8::HandleScope handle_scope(isolate);
    v8::Local<v8::Context> context = env.context();
    v8::Local<v8::Value> args[] = {v8::Integer::New(isolate, kind), v8::Number::New(isolate, record->token()),
                                   v8::Boolean::New(isolate, end_of_stream)};
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> value;
    if (record->instance->dispatch.Get(isolate)->Call(context, v8::Undefined(isolate), 3, args).ToLocal(&value)) {
      result = value->Int32Value(context).FromMaybe(kResultError);
    } else {
      v8::String::Utf8Value message(isolate, try_catch.Exception());
      NV_ERROR("nodevoy: filter '%s' %s failed on stream %" PRIu64 ": %s", record->config->name().c_str(),
               hookName(kind), record->stream_id, *message ? *message : "(no message)");
      if (isolate->IsExecutionTerminating()) isolate->CancelTerminateExecution();
    }
  }
  // A stream about to wait (async hook, or 'stop') must be registered as waiting before the isolate
  // can be let go: from then on its continuations may only run on this worker, so the poller must
  // wake the worker rather than run the event loop itself. stream_complete never waits.
  const bool may_wait = kind != kStreamComplete &&
                        (result == kResultPending ||
                         (result == NV_HEADERS_STOP_ITERATION && (kind == kRequestHeaders || kind == kResponseHeaders)));
  if (may_wait && record->alive) {
    if (record->scheduler == nullptr) record->scheduler = envoy.http_filter_scheduler_new(record->filter_envoy);
    env.addWaiting(record);
  }
  env.drainIfOutermost();  // nextTicks and microtasks: an async hook (or a continue after 'stop') may settle now
  if (may_wait && record->result_ready) {
    result = record->result;
    record->result_ready = false;
    env.removeWaiting(record);
  }
  record->running_kind = outer_kind;
  record->result_ready = outer_ready;
  record->result = outer_result;
  return result;
}

// The filter failed: 500 (fail closed) or carry on (fail open). Returns true when it answered.
bool failStream(StreamRecord* record) {
  if (!record->alive) return true;  // destroyed meanwhile: Envoy's pointers are no longer ours to use
  if (record->config->errors_counter != 0) {
    envoy.http_filter_increment_counter(record->filter_envoy, record->config->errors_counter, nullptr, 0, 1);
  }
  if (record->config->failOpen() || record->replied) return record->replied;
  record->replied = true;
  static const char kDetails[] = "nodevoy_filter_error";
  envoy.http_send_response(record->filter_envoy, 500, nullptr, 0, nv_module_buffer{nullptr, 0},
                           nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  return true;
}

// The hook is waiting on a promise: remember it and make sure we can be woken.
void goPending(StreamRecord* record, int kind) {
  if (!record->alive) return;
  record->pending_kind = kind;
  if (record->scheduler == nullptr) record->scheduler = envoy.http_filter_scheduler_new(record->filter_envoy);
  record->env->addWaiting(record);
}

nv_headers_status headersStatus(StreamRecord* record, int kind, int result) {
  if (result >= 0) {
    if (result == NV_HEADERS_STOP_ITERATION) goPending(record, kind);  // the filter continues later
    return static_cast<nv_headers_status>(result);
  }
  if (result == kResultPending) {
    goPending(record, kind);
    // Hold body and trailers too, with flow control, until the hook settles.
    return NV_HEADERS_STOP_ALL_ITERATION_AND_WATERMARK;
  }
  if (result == kResultReplied) return NV_HEADERS_STOP_ITERATION;
  return failStream(record) ? NV_HEADERS_STOP_ITERATION : NV_HEADERS_CONTINUE;
}

nv_body_status bodyStatus(StreamRecord* record, int kind, int result) {
  if (result >= 0) return static_cast<nv_body_status>(result);
  if (result == kResultPending) {
    goPending(record, kind);
    return NV_BODY_STOP_ITERATION_AND_WATERMARK;
  }
  if (result == kResultReplied) return NV_BODY_STOP_ITERATION_NO_BUFFER;
  return failStream(record) ? NV_BODY_STOP_ITERATION_NO_BUFFER : NV_BODY_CONTINUE;
}

nv_trailers_status trailersStatus(StreamRecord* record, int kind, int result) {
  if (result >= 0) return static_cast<nv_trailers_status>(result);
  if (result == kResultPending) {
    goPending(record, kind);
    return NV_TRAILERS_STOP_ITERATION;
  }
  if (result == kResultReplied) return NV_TRAILERS_STOP_ITERATION;
  return failStream(record) ? NV_TRAILERS_STOP_ITERATION : NV_TRAILERS_CONTINUE;
}

// Stands for a stream whose filter could not be created (no environment, bundle failed to load):
// its request gets a 500 instead of Envoy ≤1.39 crashing on a null filter.
StreamRecord g_failed_stream;

// Worker thread. One stream hook: straight through when the filter does not implement it (no
// crossing), else the SDK's dispatch; an unexpected C++ failure fails the stream (closed or open).
template <class Status>
Status streamHook(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm, int kind, bool end_of_stream,
                  Status (*status)(StreamRecord*, int, int), Status go_on, Status stop) {
  auto* record = static_cast<StreamRecord*>(const_cast<void*>(fm));
  if (record == &g_failed_stream) {
    if (kind != kRequestHeaders) return go_on;
    static const char kDetails[] = "nodevoy_filter_init_failed";
    envoy.http_send_response(fe, 500, nullptr, 0, nv_module_buffer{nullptr, 0},
                             nv_module_buffer{kDetails, sizeof(kDetails) - 1});
    return stop;
  }
  if (!implements(record, kind)) return go_on;
  WorkerEnv& env = *record->env;
  env.enterFromWorker();
  Status result;
  try {
    result = status(record, kind, runHook(record, kind, end_of_stream));
  } catch (...) {
    result = failStream(record) ? stop : go_on;
  }
  env.leaveFromWorker();
  return result;
}

// Worker thread, from on_http_filter_scheduled: an async hook settled; carry on accordingly.
void applySettled(StreamRecord* record) {
  int kind = record->pending_kind;
  int result = record->result;
  record->pending_kind = 0;
  record->result_ready = false;
  record->env->removeWaiting(record);
  if (result == kResultError) {
    if (failStream(record)) return;
  } else if (result == kResultReplied || record->replied) {
    return;
  } else if (result == NV_HEADERS_STOP_ITERATION && (kind == kRequestHeaders || kind == kResponseHeaders)) {
    goPending(record, kind);  // still stopped: the filter will continue itself
    return;
  }
  if (isRequestKind(kind)) {
    envoy.http_filter_continue_decoding(record->filter_envoy);
  } else {
    envoy.http_filter_continue_encoding(record->filter_envoy);
  }
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
    std::string error;
    if (!NodeRuntime::instance().initialize(&error)) {
      NV_ERROR("nodevoy: %s", error.c_str());
      return nullptr;
    }
    return NV_ABI_VERSION_V1_40;
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
    runtime.live_configs++;
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

NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) noexcept {
  try {
    auto* holder = static_cast<std::shared_ptr<FilterConfig>*>(const_cast<void*>(config_module));
    (*holder)->unload();
    delete holder;
    NodeRuntime& runtime = NodeRuntime::instance();
    if (--runtime.live_configs == 0) {
      // No config left: free the environments (V8 itself stays initialised for the process).
      runtime.destroyEnvs();
      destroyConfigEnv();
    }
  } catch (...) {
    NV_ERROR("nodevoy: config destroy failed");
  }
}

NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(
    nv_envoy_buffer name, nv_envoy_buffer config) noexcept {
  NV_ERROR("nodevoy: per-route config is not supported yet; use a separate filter config per route");
  return nullptr;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(nv_route_config_module_ptr) noexcept {}

// ---- Streams (worker thread) -----------------------------------------------------------------------

NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                                       nv_filter_envoy_ptr filter_envoy) noexcept {
  try {
    auto& config = *static_cast<const std::shared_ptr<FilterConfig>*>(config_module);
    uint32_t index = envoy.http_filter_get_worker_index(filter_envoy);
    WorkerEnv* env = NodeRuntime::instance().env(index);
    if (env == nullptr) {
      NV_ERROR("nodevoy: no Node environment for worker %u (concurrency changed?); answering 500", index);
      return &g_failed_stream;
    }
    if (!env->adopt()) return &g_failed_stream;
    // The common case needs no isolate: the instance was loaded at config time.
    FilterInstance* instance = config->cachedInstance(index);
    if (instance == nullptr) {
      env->enterFromWorker();
      instance = config->loadInstance(*env);
      StreamRecord* record = instance ? env->newStream(config, instance, filter_envoy) : nullptr;
      env->leaveFromWorker();
      return record ? record : &g_failed_stream;
    }
    StreamRecord* record = env->newStream(config, instance, filter_envoy);
    return record ? record : &g_failed_stream;
  } catch (...) {
    NV_ERROR("nodevoy: creating the stream failed; answering 500");
    return &g_failed_stream;
  }
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr fe,
                                                                                nv_filter_module_ptr fm,
                                                                                bool end_of_stream) noexcept {
  return streamHook(fe, fm, kRequestHeaders, end_of_stream, headersStatus, NV_HEADERS_CONTINUE, NV_HEADERS_STOP_ITERATION);
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_request_body(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm,
                                                                          bool end_of_stream) noexcept {
  return streamHook(fe, fm, kRequestBody, end_of_stream, bodyStatus, NV_BODY_CONTINUE, NV_BODY_STOP_ITERATION_NO_BUFFER);
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(nv_filter_envoy_ptr fe,
                                                                                  nv_filter_module_ptr fm) noexcept {
  return streamHook(fe, fm, kRequestTrailers, true, trailersStatus, NV_TRAILERS_CONTINUE, NV_TRAILERS_STOP_ITERATION);
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_response_headers(nv_filter_envoy_ptr fe,
                                                                                 nv_filter_module_ptr fm,
                                                                                 bool end_of_stream) noexcept {
  return streamHook(fe, fm, kResponseHeaders, end_of_stream, headersStatus, NV_HEADERS_CONTINUE, NV_HEADERS_STOP_ITERATION);
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_response_body(nv_filter_envoy_ptr fe, nv_filter_module_ptr fm,
                                                                           bool end_of_stream) noexcept {
  return streamHook(fe, fm, kResponseBody, end_of_stream, bodyStatus, NV_BODY_CONTINUE, NV_BODY_STOP_ITERATION_NO_BUFFER);
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(nv_filter_envoy_ptr fe,
                                                                                   nv_filter_module_ptr fm) noexcept {
  return streamHook(fe, fm, kResponseTrailers, true, trailersStatus, NV_TRAILERS_CONTINUE, NV_TRAILERS_STOP_ITERATION);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr, nv_filter_module_ptr fm) noexcept {
  auto* record = static_cast<StreamRecord*>(const_cast<void*>(fm));
  if (record == &g_failed_stream || !implements(record, kStreamComplete)) return;
  WorkerEnv& env = *record->env;
  env.enterFromWorker();
  try {
    runHook(record, kStreamComplete, true);
  } catch (...) {
  }
  env.leaveFromWorker();
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr fm) noexcept {
  auto* record = static_cast<StreamRecord*>(const_cast<void*>(fm));
  if (record == &g_failed_stream) return;
  try {
    record->env->destroyStream(record);
  } catch (...) {
  }
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_scheduled(nv_filter_envoy_ptr, nv_filter_module_ptr fm,
                                                             uint64_t event_id) noexcept {
  auto* record = static_cast<StreamRecord*>(const_cast<void*>(fm));
  try {
    WorkerEnv& env = *record->env;
    env.enterFromWorker();  // continuing may run our hooks again, nested
    if (event_id == kEventPump) {
      v8::HandleScope handle_scope(env.isolate());
      env.pumpFromWorker();
    } else if (event_id == kEventResume) {
      record->resume_posted = false;
    }
    env.drainIfOutermost();
    if (record->alive && record->pending_kind != 0 && record->result_ready) applySettled(record);
    env.leaveFromWorker();
  } catch (...) {
    NV_ERROR("nodevoy: scheduled event failed");
  }
}

// Callouts are not started by libnodevoy yet; their hooks are required exports.
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(nv_filter_envoy_ptr, nv_filter_module_ptr, uint64_t,
                                                                     nv_http_callout_result, nv_envoy_header*, size_t,
                                                                     nv_envoy_buffer*, size_t) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(nv_filter_envoy_ptr, nv_filter_module_ptr, uint64_t,
                                                                       nv_envoy_header*, size_t, bool) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(nv_filter_envoy_ptr, nv_filter_module_ptr, uint64_t,
                                                                    const nv_envoy_buffer*, size_t, bool) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(nv_filter_envoy_ptr, nv_filter_module_ptr,
                                                                        uint64_t, nv_envoy_header*, size_t) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(nv_filter_envoy_ptr, nv_filter_module_ptr,
                                                                        uint64_t) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(nv_filter_envoy_ptr, nv_filter_module_ptr, uint64_t,
                                                                     nv_http_stream_reset_reason) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    nv_filter_envoy_ptr, nv_filter_module_ptr) noexcept {}
NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    nv_filter_envoy_ptr, nv_filter_module_ptr) noexcept {}
