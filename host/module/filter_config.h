// A nodevoy filter config (the ABI's config_module_ptr): which bundle, which filter in it, that
// filter's own config, and the filter instantiated in every Node environment.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime.h"

namespace nodevoy {

class FilterConfig : public std::enable_shared_from_this<FilterConfig> {
 public:
  // Main thread: parses filter_config JSON ({"bundle", "filter", "config", "failOpen"}), validates it by
  // instantiating the filter in the config environment, then in every worker environment.
  static std::shared_ptr<FilterConfig> create(nv_config_envoy_ptr config_envoy, const std::string& name,
                                              const std::string& json, std::string* error);
  ~FilterConfig();

  // Worker thread, no isolate needed: the instance loaded in the worker's environment, or null.
  FilterInstance* cachedInstance(uint32_t env_index) const {
    return env_index < slots_ ? fast_[env_index].load(std::memory_order_acquire) : nullptr;
  }
  // Worker thread inside enterFromWorker: loads the instance now (the environment missed the load at
  // config time); null when loading failed (logged once; later streams fail fast).
  FilterInstance* loadInstance(WorkerEnv& env);
  // Main thread: drops the JS instances (config destroy).
  void unload();

  const std::string& name() const { return name_; }
  nv_config_envoy_ptr configEnvoy() const { return config_envoy_; }
  const std::string& filterName() const { return filter_name_; }
  bool failOpen() const { return fail_open_; }
  uint32_t id() const { return id_; }
  size_t errors_counter = 0;  // metric id (1-based) for hook failures, 0 when not defined
  size_t uncaught_counter = 0;  // metric id of nodevoy_uncaught_errors, 0 when not defined

 private:
  FilterConfig() = default;
  // Lock holder of env: loads the bundle and instantiates the filter; empty string on success.
  std::string loadInto(WorkerEnv& env, std::unique_ptr<FilterInstance>* out);

  nv_config_envoy_ptr config_envoy_ = nullptr;  // valid until unload() (config destroy)
  std::string name_;         // Envoy's filter_name
  std::string bundle_path_;
  std::string filter_name_;  // the filter in the bundle ("" = the only one)
  std::string config_json_;  // the filter's own config, as JSON
  bool fail_open_ = false;
  uint32_t id_ = 0;
  // Keeps instance (loaded in env) unless the config is unloaded or it already has one; returns the
  // kept instance. Lock holder of env.
  FilterInstance* keep(uint32_t env_index, std::unique_ptr<FilterInstance> instance);

  mutable std::mutex mutex_;  // guards owned_, failed_, unloaded_ (main thread, workers, poller)
  std::vector<std::unique_ptr<FilterInstance>> owned_;  // by worker env index
  std::vector<bool> failed_;
  bool unloaded_ = false;
  size_t slots_ = 0;
  std::unique_ptr<std::atomic<FilterInstance*>[]> fast_;  // lock-free reads on the stream path
};

// The environment used on the main thread to validate configs before workers see them.
WorkerEnv* configEnv(std::string* error);
// Main thread: frees the config environment (no config left).
void destroyConfigEnv();

// Any thread (the isolate lock holder): counts one error outside every hook (an uncaught exception
// or unhandled rejection) in the process-wide stat nodevoy_uncaught_errors. Every config defines that
// counter under the same name, which Envoy resolves to one stat; it is updated through any live
// config (a config-level update, Envoy >= 1.39; older Envoys only get the log line).
void countUncaughtError();

}  // namespace nodevoy
