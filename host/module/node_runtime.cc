#include "node_runtime.h"

#include <cstdlib>

#include "filter_config.h"
#include "log.h"
#include "sandbox_stats.h"
#include "watchdog.h"
#include "worker_env.h"

namespace nodevoy {

const InspectSettings& inspectSettings() {
  static const InspectSettings settings = [] {
    InspectSettings s;
    if (const char* address = getenv("NODEVOY_INSPECT")) s.address = address;
    if (const char* worker = getenv("NODEVOY_INSPECT_WORKER")) s.worker = static_cast<uint32_t>(strtoul(worker, nullptr, 10));
    return s;
  }();
  return settings;
}

bool isInspectedEnv(uint32_t index) { return !inspectSettings().address.empty() && index == inspectSettings().worker; }

NodeRuntime& NodeRuntime::instance() {
  static NodeRuntime* runtime = new NodeRuntime();  // process lifetime; V8 cannot be re-initialised
  return *runtime;
}

bool NodeRuntime::initialize(std::string* error) {
  if (initialized_) return true;
  if (!init_error_.empty()) {
    *error = init_error_;
    return false;
  }
  using namespace node::ProcessInitializationFlags;
  std::vector<std::string> argv = compat::baseProcessArgs();  // globalThis.crypto on every runtime
  // NODEVOY_NODE_OPTIONS adds Node/V8 options (e.g. --max-old-space-size=64, --perf-basic-prof);
  // NODE_OPTIONS from Envoy's environment is deliberately ignored.
  if (const char* extra = getenv("NODEVOY_NODE_OPTIONS")) {
    std::string options(extra);
    size_t start = 0;
    while (start < options.size()) {
      size_t end = options.find(' ', start);
      if (end == std::string::npos) end = options.size();
      if (end > start) argv.push_back(options.substr(start, end - start));
      start = end + 1;
    }
  }
  if (!inspectSettings().address.empty()) argv.push_back("--inspect=" + inspectSettings().address);
  init_ = node::InitializeOncePerProcess(
      argv, static_cast<node::ProcessInitializationFlags::Flags>(
                kNoInitializeV8 | kNoInitializeNodeV8Platform | kNoStdioInitialization | kNoDefaultSignalHandling |
                kDisableNodeOptionsEnv | kNoAdjustResourceLimits | kNoUseLargePages | kNoPrintHelpOrVersionOutput));
  if (!init_ || init_->early_return() || !init_->errors().empty()) {
    init_error_ = "Node initialisation failed";
    if (init_) {
      for (const auto& e : init_->errors()) init_error_ += ": " + e;
    }
    *error = init_error_;
    return false;
  }
  args_ = init_->args();
  exec_args_ = init_->exec_args();
  platform_ = node::MultiIsolatePlatform::Create(2);
  v8::V8::InitializePlatform(platform_.get());
  v8::V8::Initialize();
  atexit(stopPollersAtExit);
  Watchdog::instance().start();
  initialized_ = true;
  return true;
}

bool NodeRuntime::ensureEnvs(uint32_t count, std::string* error) {
  const uint32_t existing = envCount();
  if (existing != 0) {
    if (count <= existing) return true;
    *error = "the worker count grew from " + std::to_string(existing) + " to " + std::to_string(count) +
             " after the first nodevoy config; restart Envoy to change --concurrency";
    return false;
  }
  auto* envs = new std::atomic<WorkerEnv*>[count];
  for (uint32_t i = 0; i < count; i++) {
    auto env = WorkerEnv::create(i, error);
    if (!env) {
      for (uint32_t j = 0; j < i; j++) delete envs[j].load();
      delete[] envs;
      return false;
    }
    envs[i].store(env.release());
  }
  envs_ = envs;
  retired_ = new std::vector<WorkerEnv*>[count];
  env_count_.store(count, std::memory_order_release);
  return true;
}

void NodeRuntime::addConfig(const std::shared_ptr<FilterConfig>& config) {
  std::lock_guard<std::mutex> lock(configs_mutex_);
  std::erase_if(configs_, [](const std::weak_ptr<FilterConfig>& weak) { return weak.expired(); });
  configs_.push_back(config);
}

WorkerEnv* NodeRuntime::envForStream(uint32_t worker_index) {
  WorkerEnv* current = env(worker_index);
  if (current == nullptr || !current->dead()) return current;
  return rebuild(worker_index, current);
}

WorkerEnv* NodeRuntime::rebuild(uint32_t worker_index, WorkerEnv* dead) {
  const auto started = std::chrono::steady_clock::now();
  dead->releaseForRebuild();
  std::string error;
  auto fresh = WorkerEnv::create(worker_index, &error);
  if (!fresh) {
    NV_ERROR("nodevoy: rebuilding the Node environment of worker %u failed: %s; its streams get 500", worker_index,
             error.c_str());
    return nullptr;
  }
  std::vector<std::shared_ptr<FilterConfig>> configs;
  {
    std::lock_guard<std::mutex> lock(configs_mutex_);
    for (auto& weak : configs_) {
      if (auto config = weak.lock()) configs.push_back(std::move(config));
    }
  }
  for (auto& config : configs) config->reloadInto(*fresh, *dead);
  envs_[worker_index].store(fresh.release(), std::memory_order_release);
  retired_[worker_index].push_back(dead);
  countSandboxEvent(SandboxEvent::Rebuild);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  NV_WARN("nodevoy: rebuilt the Node environment of worker %u in %.1f ms (%zu configs loaded again; %u streams of the "
          "old one are answered as they come)",
          worker_index, ms, configs.size(), dead->liveStreams());
  reapRetired(worker_index);
  return env(worker_index);
}

void NodeRuntime::reapRetired(uint32_t worker_index) {
  if (worker_index >= envCount()) return;
  auto& retired = retired_[worker_index];
  for (size_t i = 0; i < retired.size();) {
    WorkerEnv* old = retired[i];
    if (!old->retirable()) {
      i++;
      continue;
    }
    retired.erase(retired.begin() + static_cast<std::ptrdiff_t>(i));
    delete old;  // on its worker: lets its isolate go, stops its poller, frees the environment
  }
}

WorkerEnv* NodeRuntime::configEnv(std::string* error) {
  if (config_env_ != nullptr && config_env_->dead()) {
    delete config_env_;  // a config load looped or ran out of heap: validate the next in a fresh one
    config_env_ = nullptr;
  }
  if (config_env_ == nullptr) config_env_ = WorkerEnv::create(WorkerEnv::kConfigEnvIndex, error).release();
  return config_env_;
}

void NodeRuntime::stopPollersAtExit() {
  NodeRuntime& runtime = instance();
  for (uint32_t i = 0; i < runtime.envCount(); i++) {
    runtime.envs_[i].load()->stopPoller();
    for (WorkerEnv* old : runtime.retired_[i]) old->stopPoller();
  }
  if (runtime.config_env_ != nullptr) runtime.config_env_->stopPoller();
}

}  // namespace nodevoy
