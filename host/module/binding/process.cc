// Process-scope binding functions: setup, logging, errors outside hooks, the worker index, load budgets. L.
#include "binding.h"
#include "envoy_api.h"
#include "filter_config.h"
#include "js_call.h"
#include "log.h"
#include "sandbox_stats.h"
#include "watchdog.h"
#include "worker_env.h"

namespace nodevoy::binding {

// Once, from the bootstrap: the runtime object and the tick hooks. Later calls are refused.
Napi::Value setup(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  if (env->hasRuntimeObject()) return invalidArgument(info.Env(), "setup: already done");
  if (!info[0].IsObject()) return invalidArgument(info.Env(), "setup: bad arguments");
  Napi::Object runtime = info[0].As<Napi::Object>();
  const Napi::Value process_ticks = runtime.Get("processTicks");
  const Napi::Value tick_flag = runtime.Get("tickFlag");
  if (!process_ticks.IsFunction() || !tick_flag.IsTypedArray()) return invalidArgument(info.Env(), "setup: bad arguments");
  env->setTickHooks(toV8(process_ticks).As<v8::Function>(), toV8(tick_flag).As<v8::Int32Array>());
  env->setRuntimeObject(toV8(runtime).As<v8::Object>());
  return info.Env().Undefined();
}

// (level, message)
Napi::Value log(const Napi::CallbackInfo& info) {
  uint32_t level = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : static_cast<uint32_t>(NV_LOG_INFO);
  if (level > NV_LOG_CRITICAL) level = NV_LOG_CRITICAL;
  if (!nodevoy::logEnabled(static_cast<nv_log_level>(level))) return info.Env().Undefined();
  std::string message = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (envoy.log != nullptr) {
    envoy.log(static_cast<nv_log_level>(level), nv_module_buffer{message.data(), message.size()});
  }
  return info.Env().Undefined();
}

Napi::Value logEnabled(const Napi::CallbackInfo& info) {
  uint32_t level = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : static_cast<uint32_t>(NV_LOG_INFO);
  return Napi::Boolean::New(info.Env(), nodevoy::logEnabled(static_cast<nv_log_level>(level)));
}

// An error outside every hook (from the bootstrap's capture callback): logged and counted.
Napi::Value uncaught(const Napi::CallbackInfo& info) {
  std::string message = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "nodevoy: uncaught error";
  NV_ERROR("%s", message.c_str());
  countSandboxEvent(SandboxEvent::Uncaught);
  return info.Env().Undefined();
}

Napi::Value workerIndex(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  return Napi::Number::New(info.Env(),
                           env->index() == WorkerEnv::kConfigEnvIndex ? -1.0 : static_cast<double>(env->index()));
}

// (load) -> load(): runs a one-time lazy load of Node's (undici, behind fetch and its classes) with a
// load's CPU budget, in the phase of the run it interrupts; that run's budget restarts when it
// returns. A load the watchdog cuts short leaves Node's lazy loader broken for the environment, and
// a filter's first fetch() must not cost its request.
Napi::Value withLoadBudget(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) return invalidArgument(info.Env(), "withLoadBudget: bad arguments");
  Watchdog::Slot* slot = envOf(info)->watchdogSlot();
  if (slot == nullptr) return info[0].As<Napi::Function>().Call({});
  const bool running = slot->started.load(std::memory_order_relaxed) != 0;
  const auto phase = running ? static_cast<Watchdog::Phase>(slot->phase.load(std::memory_order_relaxed)) : Watchdog::Phase::Loop;
  Watchdog::Run run(slot, phase, Watchdog::instance().loopBudgetMs() * 10);
  return info[0].As<Napi::Function>().Call({});
}

}  // namespace nodevoy::binding
