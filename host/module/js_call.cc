#include "js_call.h"

#include <cinttypes>
#include <cstring>

#include "contract.gen.h"
#include "filter_config.h"
#include "log.h"
#include "sandbox_stats.h"
#include "stream.h"
#include "watchdog.h"
#include "worker_env.h"

namespace nodevoy {

namespace {

std::string exceptionText(v8::Isolate* isolate, const v8::TryCatch& try_catch) {
  if (!try_catch.HasCaught()) return "(no exception)";
  if (try_catch.HasTerminated()) return "(execution terminated)";
  v8::String::Utf8Value text(isolate, try_catch.Exception());
  return *text ? *text : "(an exception that cannot be printed)";
}

v8::Local<v8::String> string(v8::Isolate* isolate, const std::string& value) {
  return v8::String::NewFromUtf8(isolate, value.data(), v8::NewStringType::kNormal, static_cast<int>(value.size()))
      .ToLocalChecked();
}

}  // namespace

v8::Local<v8::Value> toV8(napi_value value) {
  v8::Local<v8::Value> out;
  static_assert(sizeof(out) == sizeof(value), "napi_value is a v8::Local");
  memcpy(static_cast<void*>(&out), &value, sizeof(out));
  return out;
}

int callDispatch(Stream& stream, int kind, bool end_of_stream) {
  WorkerEnv& env = stream.env();
  if (env.dead()) return contract::kError;
  const FilterConfig& config = stream.config();
  const uint32_t budget_ms = config.cpuBudgetMs();
  v8::Isolate* isolate = env.isolate();
  v8::HandleScope handle_scope(isolate);
  v8::Local<v8::Context> context = env.context();
  v8::Local<v8::Value> args[] = {v8::Integer::New(isolate, kind), v8::Integer::NewFromUnsigned(isolate, stream.slot()),
                                 v8::Integer::NewFromUnsigned(isolate, stream.generation()),
                                 v8::Boolean::New(isolate, end_of_stream)};
  v8::TryCatch try_catch(isolate);
  v8::Local<v8::Value> value;
  bool ok;
  {
    Watchdog::Run run(env.watchdogSlot(), Watchdog::Phase::Hook, budget_ms);
    ok = stream.instance()->dispatch.Get(isolate)->Call(context, v8::Undefined(isolate), 4, args).ToLocal(&value);
  }
  if (ok) return value->Int32Value(context).FromMaybe(contract::kError);
  if (try_catch.HasTerminated() || isolate->IsExecutionTerminating()) {
    if (env.dead()) return contract::kError;  // the environment was stopped (heap): its worker rebuilds it
    isolate->CancelTerminateExecution();
    NV_ERROR("nodevoy: filter '%s' %s on stream %" PRIu64 " ran over its CPU budget of %u ms and was stopped",
             config.name().c_str(), contract::hook(kind).name, stream.id(), budget_ms);
    countSandboxEvent(SandboxEvent::CpuBudget);
    return contract::kError;
  }
  NV_ERROR("nodevoy: filter '%s' %s failed on stream %" PRIu64 ": %s", config.name().c_str(), contract::hook(kind).name,
           stream.id(), exceptionText(isolate, try_catch).c_str());
  return contract::kError;
}

std::string instantiateFilter(WorkerEnv& env, const std::string& bundle_path, const std::string& filter_name,
                              const std::string& config_json, uint32_t config_id, const std::string& envoy_name,
                              uint32_t settle_timeout_ms, std::unique_ptr<FilterInstance>* out) {
  v8::Isolate* isolate = env.isolate();
  v8::HandleScope handle_scope(isolate);
  v8::Local<v8::Context> context = env.context();
  v8::TryCatch try_catch(isolate);
  auto fail = [&](const std::string& what) { return what + exceptionText(isolate, try_catch); };
  v8::Local<v8::Object> runtime = env.runtimeObject();
  v8::Local<v8::Value> load_fn, instantiate_fn;
  if (!runtime->Get(context, v8::String::NewFromUtf8Literal(isolate, "load")).ToLocal(&load_fn) ||
      !runtime->Get(context, v8::String::NewFromUtf8Literal(isolate, "instantiate")).ToLocal(&instantiate_fn) ||
      !load_fn->IsFunction() || !instantiate_fn->IsFunction()) {
    return fail("the nodevoy runtime is broken: ");
  }
  v8::Local<v8::Value> path = string(isolate, bundle_path);
  v8::Local<v8::Value> exports;
  if (!load_fn.As<v8::Function>()->Call(context, runtime, 1, &path).ToLocal(&exports)) {
    return fail("cannot load bundle " + bundle_path + ": ");
  }
  v8::Local<v8::Value> args[] = {exports, string(isolate, filter_name), string(isolate, config_json),
                                 v8::Integer::NewFromUnsigned(isolate, config_id),
                                 v8::Integer::NewFromUnsigned(isolate, settle_timeout_ms)};
  v8::Local<v8::Value> result;
  if (!instantiate_fn.As<v8::Function>()->Call(context, runtime, 5, args).ToLocal(&result)) {
    return fail("filter '" + (filter_name.empty() ? envoy_name : filter_name) + "': ");
  }
  if (!result->IsObject()) return "the bundle's nodevoy SDK returned no filter instance";
  v8::Local<v8::Object> object = result.As<v8::Object>();
  v8::Local<v8::Value> dispatch, hooks, dispose;
  if (!object->Get(context, v8::String::NewFromUtf8Literal(isolate, "dispatch")).ToLocal(&dispatch) ||
      !dispatch->IsFunction() ||
      !object->Get(context, v8::String::NewFromUtf8Literal(isolate, "hooks")).ToLocal(&hooks) || !hooks->IsUint32()) {
    return "the bundle's nodevoy SDK does not match this libnodevoy (instance without dispatch/hooks)";
  }
  auto instance = std::make_unique<FilterInstance>();
  instance->dispatch.Reset(isolate, dispatch.As<v8::Function>());
  if (object->Get(context, v8::String::NewFromUtf8Literal(isolate, "dispose")).ToLocal(&dispose) && dispose->IsFunction()) {
    instance->dispose.Reset(isolate, dispose.As<v8::Function>());
  }
  instance->hooks = hooks.As<v8::Uint32>()->Value();
  *out = std::move(instance);
  return "";
}

std::string validateRouteConfig(WorkerEnv& env, const std::string& bundle_path, const std::string& filter_name,
                                const std::string& route_json) {
  v8::Isolate* isolate = env.isolate();
  v8::HandleScope handle_scope(isolate);
  v8::Local<v8::Context> context = env.context();
  v8::TryCatch try_catch(isolate);
  auto fail = [&](const std::string& what) { return what + exceptionText(isolate, try_catch); };
  v8::Local<v8::Object> runtime = env.runtimeObject();
  v8::Local<v8::Value> load_fn, validate_fn;
  if (!runtime->Get(context, v8::String::NewFromUtf8Literal(isolate, "load")).ToLocal(&load_fn) ||
      !runtime->Get(context, v8::String::NewFromUtf8Literal(isolate, "validateRoute")).ToLocal(&validate_fn) ||
      !load_fn->IsFunction() || !validate_fn->IsFunction()) {
    return fail("the nodevoy runtime is broken: ");
  }
  v8::Local<v8::Value> path = string(isolate, bundle_path);
  v8::Local<v8::Value> exports;
  if (!load_fn.As<v8::Function>()->Call(context, runtime, 1, &path).ToLocal(&exports)) {
    return fail("cannot load bundle " + bundle_path + ": ");
  }
  v8::Local<v8::Value> args[] = {exports, string(isolate, filter_name), string(isolate, route_json)};
  v8::Local<v8::Value> result;
  if (!validate_fn.As<v8::Function>()->Call(context, runtime, 3, args).ToLocal(&result)) return fail("");
  return "";
}

void callDispose(WorkerEnv& env, const FilterInstance& instance) {
  if (instance.dispose.IsEmpty()) return;
  v8::Isolate* isolate = env.isolate();
  v8::HandleScope handle_scope(isolate);
  v8::TryCatch try_catch(isolate);
  if (instance.dispose.Get(isolate)->Call(env.context(), v8::Undefined(isolate), 0, nullptr).IsEmpty()) {
    NV_ERROR("nodevoy: a filter's onDestroy threw: %s", exceptionText(isolate, try_catch).c_str());
  }
}

}  // namespace nodevoy
