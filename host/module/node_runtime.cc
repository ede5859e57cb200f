#include "node_runtime.h"

#include <cstdlib>

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
  // --experimental-global-webcrypto: globalThis.crypto, as in Node >= 19 (libraries such as jose 6 need it).
  std::vector<std::string> argv = {"envoy", "--unhandled-rejections=warn", "--no-warnings",
                                   "--experimental-global-webcrypto"};
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
  auto** envs = new WorkerEnv*[count]();
  for (uint32_t i = 0; i < count; i++) {
    auto env = WorkerEnv::create(i, error);
    if (!env) {
      for (uint32_t j = 0; j < i; j++) delete envs[j];
      delete[] envs;
      return false;
    }
    envs[i] = env.release();
  }
  envs_ = envs;
  env_count_.store(count, std::memory_order_release);
  return true;
}

WorkerEnv* NodeRuntime::configEnv(std::string* error) {
  if (config_env_ == nullptr) config_env_ = WorkerEnv::create(WorkerEnv::kConfigEnvIndex, error).release();
  return config_env_;
}

void NodeRuntime::stopPollersAtExit() {
  NodeRuntime& runtime = instance();
  for (uint32_t i = 0; i < runtime.envCount(); i++) runtime.envs_[i]->stopPoller();
  if (runtime.config_env_ != nullptr) runtime.config_env_->stopPoller();
}

}  // namespace nodevoy
