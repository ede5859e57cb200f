// Node in the Envoy process (shared/DESIGN.md, runtime model): initialised once per process, one
// Node environment per Envoy worker, plus one on the main thread that validates configs before the
// workers see them. Environments are created by the first filter config and live as long as the
// process: a config destroy — which Envoy runs on whatever thread drops the last reference, a worker
// included — only unloads that config's filter instances, so no thread ever tears down an
// environment another thread may be using.
//
// The one exception is an environment that died (watchdog.h: a Node callback over its CPU budget,
// or the heap limit): its worker rebuilds it — a fresh environment with every live config loaded
// again — when the next stream arrives; streams of the dead one are answered (500, or a reset) at
// their next hook or scheduled event, and the dead environment is freed, on its worker, once the
// last of them is gone.
//
// Threads: M = Envoy's main thread, W = a worker, A = any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <node.h>
#include "node_compat.h"

namespace nodevoy {

class FilterConfig;
class WorkerEnv;

// NODEVOY_INSPECT=host:port opens Node's inspector (a debugger endpoint, as `node --inspect`) on one
// environment: worker NODEVOY_INSPECT_WORKER (default 0). Node's inspector agent keeps process-wide
// state, so only one environment gets one; every other one is created without. A: read once.
struct InspectSettings {
  std::string address;  // empty: no inspector
  uint32_t worker = 0;
};
const InspectSettings& inspectSettings();
// A. Whether the environment of this index is the one with the inspector.
bool isInspectedEnv(uint32_t index);

class NodeRuntime {
 public:
  static NodeRuntime& instance();

  // M. Initialises Node and V8 once per process; later calls return the first outcome.
  bool initialize(std::string* error);
  // M. Makes sure an environment exists for each worker index < count (created once; a later
  // config asking for more workers than the first one is refused).
  bool ensureEnvs(uint32_t count, std::string* error);
  // A. The current environment of a worker index, or null (lock-free).
  WorkerEnv* env(uint32_t worker_index) const {
    const uint32_t count = env_count_.load(std::memory_order_acquire);
    return worker_index < count ? envs_[worker_index].load(std::memory_order_acquire) : nullptr;
  }
  // W (that worker): the environment for a new stream — rebuilt first when the current one is dead.
  // Null when there is none, or rebuilding failed (logged).
  WorkerEnv* envForStream(uint32_t worker_index);
  // W (that worker): frees the worker's dead environments whose last stream is gone.
  void reapRetired(uint32_t worker_index);
  // M: rebuilt environments load every config registered here (weakly held).
  void addConfig(const std::shared_ptr<FilterConfig>& config);
  uint32_t envCount() const { return env_count_.load(std::memory_order_acquire); }
  // M. The config-validation environment (created on first use).
  WorkerEnv* configEnv(std::string* error);

  node::MultiIsolatePlatform* platform() { return platform_.get(); }
  const std::vector<std::string>& args() const { return args_; }
  const std::vector<std::string>& execArgs() const { return exec_args_; }

 private:
  // At process exit (atexit): stops every environment's loop poller, so no poller thread runs JS
  // while the process tears libnode down.
  static void stopPollersAtExit();

  std::unique_ptr<node::MultiIsolatePlatform> platform_;
  compat::InitializationResultPtr init_;
  std::vector<std::string> args_, exec_args_;
  bool initialized_ = false;
  std::string init_error_;
  // W: replaces a dead environment.
  WorkerEnv* rebuild(uint32_t worker_index, WorkerEnv* dead);

  std::atomic<WorkerEnv*>* envs_ = nullptr;  // by worker; the array is made once (M) before env_count_
  std::atomic<uint32_t> env_count_{0};
  std::vector<WorkerEnv*>* retired_ = nullptr;  // by worker: dead environments still with streams (W)
  WorkerEnv* config_env_ = nullptr;  // M
  std::mutex configs_mutex_;
  std::vector<std::weak_ptr<FilterConfig>> configs_;
};

}  // namespace nodevoy
