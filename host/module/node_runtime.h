// Node in the Envoy process (shared/DESIGN.md, runtime model): initialised once per process, one
// Node environment per Envoy worker, plus one on the main thread that validates configs before the
// workers see them. Environments are created by the first filter config and live as long as the
// process: a config destroy — which Envoy runs on whatever thread drops the last reference, a worker
// included — only unloads that config's filter instances, so no thread ever tears down an
// environment another thread may be using.
//
// Threads: M = Envoy's main thread, W = a worker, A = any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <node.h>

namespace nodevoy {

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
  // A. The environment of a worker index, or null (lock-free: the array never changes once made).
  WorkerEnv* env(uint32_t worker_index) const {
    const uint32_t count = env_count_.load(std::memory_order_acquire);
    return worker_index < count ? envs_[worker_index] : nullptr;
  }
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
  std::unique_ptr<node::InitializationResult> init_;
  std::vector<std::string> args_, exec_args_;
  bool initialized_ = false;
  std::string init_error_;
  WorkerEnv** envs_ = nullptr;  // process lifetime, written once (M) before env_count_ is published
  std::atomic<uint32_t> env_count_{0};
  WorkerEnv* config_env_ = nullptr;  // M
};

}  // namespace nodevoy
