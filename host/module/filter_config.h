// A nodevoy filter config (the ABI's config_module_ptr): which bundle, which filter in it, that
// filter's own config, and the filter instantiated in every Node environment.
//
// Threads (legend in worker_env.h): created on M (config_new); destroyed — unload() then the last
// shared_ptr — on any thread (A): Envoy runs config_destroy wherever the last reference drops, a
// worker included, and streams in flight keep the object alive until they end.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <v8.h>

#include "metrics.h"
#include "nodevoy_envoy_abi.h"

namespace nodevoy {

class WorkerEnv;

// One filter config's instance inside one environment: the SDK's per-config dispatcher.
struct FilterInstance {
  v8::Global<v8::Function> dispatch;  // (kind, token, endOfStream) => action
  v8::Global<v8::Function> dispose;   // () => void, when the config goes away; may be empty
  uint32_t hooks = 0;                  // bit (1 << kind) set when the filter implements that hook
};

class FilterConfig : public std::enable_shared_from_this<FilterConfig> {
 public:
  // M: parses filter_config JSON ({"bundle", "filter", "config", "failOpen"}), validates it by
  // instantiating the filter in the validation environment, then loads it into every worker
  // environment (now when the environment is free, else by its worker at its next hook).
  static std::shared_ptr<FilterConfig> create(nv_config_envoy_ptr config_envoy, const std::string& name,
                                              const std::string& json, std::string* error);
  ~FilterConfig();

  // W, no isolate needed: the instance loaded in the worker's environment, or null.
  FilterInstance* cachedInstance(uint32_t env_index) const {
    return env_index < slots_ ? fast_[env_index].load(std::memory_order_acquire) : nullptr;
  }
  // W inside enterFromWorker: loads the instance now (the environment missed the load at config
  // time); null when loading failed (logged once; later streams fail fast).
  FilterInstance* loadInstance(WorkerEnv& env);
  // W (the worker of fresh): a rebuilt environment replaces dead for this config: the old instance
  // is left to the dead environment to release, and the filter is loaded into the fresh one.
  void reloadInto(WorkerEnv& fresh, WorkerEnv& dead);
  // A: Envoy destroyed the config. Each environment's instance is released (its onDestroy run) by
  // that environment's lock holder; the Envoy config pointer is not used after this returns.
  void unload();

  const std::string& name() const { return name_; }
  bool failOpen() const { return fail_open_; }
  // The sandbox's limits for this filter (filter_config fields; defaults from the environment).
  uint32_t cpuBudgetMs() const { return cpu_budget_ms_; }
  uint32_t settleTimeoutMs() const { return settle_timeout_ms_; }
  uint32_t timeoutStatus() const { return timeout_status_; }
  uint32_t id() const { return id_; }
  nv_config_envoy_ptr configEnvoy() const { return config_envoy_; }
  size_t errors_counter = 0;    // metric id (1-based) for hook failures, 0 when not defined

  // ---- issue 10: metrics, per-route config, background work ----
  const std::string& bundlePath() const { return bundle_path_; }
  const std::string& filterName() const { return filter_name_; }
  // The filter's declared metrics (defined while create() validates the config on M).
  MetricSet metrics;
  // A: whether create() is validating now, inside on_http_filter_config_new (metrics may be defined).
  bool defining() const { return defining_.load(std::memory_order_acquire); }
  // A: runs f(config_envoy) while the Envoy config is alive, so a config-level call never races
  // unload(); false (f not run) once it is gone.
  template <class F>
  bool withConfigEnvoy(F&& f) {
    std::shared_lock<std::shared_mutex> lock(envoy_mutex_);
    if (config_envoy_ == nullptr) return false;
    f(config_envoy_);
    return true;
  }

 private:
  FilterConfig() = default;
  // L of env: loads the bundle and instantiates the filter; "" on success.
  std::string loadInto(WorkerEnv& env, std::unique_ptr<FilterInstance>* out);
  // L of env: keeps instance unless the config is unloaded or has one already; returns the kept one.
  FilterInstance* keep(uint32_t env_index, std::unique_ptr<FilterInstance> instance);

  nv_config_envoy_ptr config_envoy_ = nullptr;  // valid until unload() (config destroy); envoy_mutex_
  std::shared_mutex envoy_mutex_;
  std::atomic<bool> defining_{false};
  std::string name_;          // Envoy's filter_name
  std::string bundle_path_;
  std::string filter_name_;   // the filter in the bundle ("" = the only one)
  std::string config_json_;   // the filter's own config, as JSON
  bool fail_open_ = false;
  uint32_t cpu_budget_ms_ = 0;
  uint32_t settle_timeout_ms_ = 30000;
  uint32_t timeout_status_ = 504;
  uint32_t id_ = 0;

  mutable std::mutex mutex_;  // guards owned_, failed_, unloaded_ (M, workers, pollers)
  std::vector<std::unique_ptr<FilterInstance>> owned_;  // by worker env index
  std::vector<bool> failed_;
  bool unloaded_ = false;
  size_t slots_ = 0;
  std::unique_ptr<std::atomic<FilterInstance*>[]> fast_;  // lock-free reads on the stream path
};

// L of env: releases an instance (runs the filter's onDestroy, drops its handles) and frees it.
void releaseInstance(WorkerEnv& env, std::unique_ptr<FilterInstance> instance);

}  // namespace nodevoy
