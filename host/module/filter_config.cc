#include "filter_config.h"


#include "config_registry.h"
#include "contract.gen.h"
#include "envoy_api.h"
#include "filter_config_json.h"
#include "js_call.h"
#include "log.h"
#include "node_runtime.h"
#include "sandbox_stats.h"
#include "watchdog.h"
#include "worker_env.h"

namespace nodevoy {

namespace {
std::atomic<uint32_t> g_next_config_id{1};

}  // namespace

std::shared_ptr<FilterConfig> FilterConfig::create(nv_config_envoy_ptr config_envoy, const std::string& name,
                                                   const std::string& json, std::string* error) {
  std::shared_ptr<FilterConfig> config(new FilterConfig());
  config->name_ = name;
  config->config_envoy_ = config_envoy;
  config->id_ = g_next_config_id.fetch_add(1);
  FilterConfigFields fields;
  if (std::string problem = parseFilterConfig(json, &fields); !problem.empty()) {
    *error = problem;
    return nullptr;
  }
  config->bundle_path_ = fields.bundle;
  config->filter_name_ = fields.filter;
  config->config_json_ = fields.config_json;
  config->fail_open_ = fields.fail_open;
  config->cpu_budget_ms_ = fields.cpu_budget_ms != 0 ? fields.cpu_budget_ms : Watchdog::instance().hookBudgetMs();
  config->settle_timeout_ms_ = fields.settle_timeout_ms;
  config->timeout_status_ = fields.timeout_status;

  // Metrics may only be defined now, inside config_new.
  std::string metric = "nodevoy_filter_errors";
  size_t metric_id = 0;
  nv_module_buffer metric_name{metric.data(), metric.size()};
  if (envoy.http_filter_config_define_counter(config_envoy, metric_name, nullptr, 0, &metric_id) == NV_METRICS_SUCCESS) {
    config->errors_counter = metric_id;
  }
  const SandboxCounters sandbox_counters = defineSandboxCounters(config_envoy);

  // Validate in the config environment: load the bundle, find the filter, parse its config. The
  // filter's own metrics are defined meanwhile (the SDK declares them: binding declareMetrics).
  NodeRuntime& runtime = NodeRuntime::instance();
  WorkerEnv* validation = runtime.configEnv(error);
  if (validation == nullptr) return nullptr;
  std::string problem;
  registerConfig(config);
  config->defining_.store(true, std::memory_order_release);
  validation->runBlocking([&] {
    std::unique_ptr<FilterInstance> instance;
    problem = config->loadInto(*validation, &instance);
    if (instance) releaseInstance(*validation, std::move(instance));
  });
  config->defining_.store(false, std::memory_order_release);
  if (problem.empty() && !config->metrics.defined()) problem = config->metrics.define(config_envoy, {});
  if (!problem.empty()) {
    unregisterConfig(config.get());
    *error = problem;
    return nullptr;
  }
  // Then in every worker environment, before traffic needs it: now when the environment is free
  // (always at start-up), else by its worker at its next hook.
  config->slots_ = runtime.envCount();
  config->owned_.resize(config->slots_);
  config->failed_.assign(config->slots_, false);
  config->fast_.reset(new std::atomic<FilterInstance*>[config->slots_]);
  for (size_t i = 0; i < config->slots_; i++) config->fast_[i].store(nullptr);
  addSandboxCounters(config.get(), config_envoy, sandbox_counters);
  runtime.addConfig(config);
  for (uint32_t i = 0; i < runtime.envCount(); i++) {
    WorkerEnv* env = runtime.env(i);
    std::weak_ptr<FilterConfig> weak = config;
    env->runOrQueue([weak, env] {
      auto self = weak.lock();
      if (!self) return;
      std::unique_ptr<FilterInstance> instance;
      std::string problem = self->loadInto(*env, &instance);
      if (!problem.empty()) {
        NV_ERROR("nodevoy: loading filter config '%s' into worker %u failed: %s", self->name_.c_str(), env->index(),
                 problem.c_str());
        std::lock_guard<std::mutex> lock(self->mutex_);
        if (env->index() < self->failed_.size()) self->failed_[env->index()] = true;
        return;
      }
      self->keep(env->index(), std::move(instance));
    });
  }
  return config;
}

std::string FilterConfig::loadInto(WorkerEnv& env, std::unique_ptr<FilterInstance>* out) {
  return instantiateFilter(env, bundle_path_, filter_name_, config_json_, id_, name_, settle_timeout_ms_, out);
}

void releaseInstance(WorkerEnv& env, std::unique_ptr<FilterInstance> instance) {
  callDispose(env, *instance);
  instance->dispatch.Reset();
  instance->dispose.Reset();
}

FilterInstance* FilterConfig::keep(uint32_t env_index, std::unique_ptr<FilterInstance> instance) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (unloaded_ || env_index >= owned_.size()) return nullptr;  // destroyed here, with the isolate locked
  if (!owned_[env_index]) {
    owned_[env_index] = std::move(instance);
    fast_[env_index].store(owned_[env_index].get(), std::memory_order_release);
  }
  return owned_[env_index].get();
}

FilterInstance* FilterConfig::loadInstance(WorkerEnv& env) {
  if (FilterInstance* instance = cachedInstance(env.index())) return instance;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (unloaded_ || env.index() >= failed_.size() || failed_[env.index()]) return nullptr;
  }
  std::unique_ptr<FilterInstance> instance;
  std::string problem = loadInto(env, &instance);
  if (!problem.empty()) {
    NV_ERROR("nodevoy: loading filter config '%s' into worker %u failed: %s; its requests get 500", name_.c_str(),
             env.index(), problem.c_str());
    std::lock_guard<std::mutex> lock(mutex_);
    failed_[env.index()] = true;
    return nullptr;
  }
  return keep(env.index(), std::move(instance));
}

void FilterConfig::reloadInto(WorkerEnv& fresh, WorkerEnv& dead) {
  const uint32_t index = fresh.index();
  std::unique_ptr<FilterInstance> previous;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (unloaded_ || index >= owned_.size()) return;
    previous = std::move(owned_[index]);
    fast_[index].store(nullptr, std::memory_order_release);
    failed_[index] = false;
  }
  if (previous) dead.keepOrphan(std::move(previous));
  std::weak_ptr<FilterConfig> weak = shared_from_this();
  fresh.runOrQueue([weak, env = &fresh] {
    auto self = weak.lock();
    if (!self) return;
    std::unique_ptr<FilterInstance> instance;
    std::string problem = self->loadInto(*env, &instance);
    if (!problem.empty()) {
      NV_ERROR("nodevoy: loading filter config '%s' into the rebuilt environment of worker %u failed: %s",
               self->name_.c_str(), env->index(), problem.c_str());
      std::lock_guard<std::mutex> lock(self->mutex_);
      self->failed_[env->index()] = true;
      return;
    }
    self->keep(env->index(), std::move(instance));
  });
}

void FilterConfig::unload() {
  removeSandboxCounters(this);
  unregisterConfig(this);
  {
    std::unique_lock<std::shared_mutex> lock(envoy_mutex_);  // no config-level call is under way after this
    config_envoy_ = nullptr;
  }
  NodeRuntime& runtime = NodeRuntime::instance();
  std::vector<std::unique_ptr<FilterInstance>> instances;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unloaded_ = true;
    instances.swap(owned_);
    for (size_t i = 0; i < slots_; i++) fast_[i].store(nullptr);
  }
  for (uint32_t i = 0; i < instances.size() && i < runtime.envCount(); i++) {
    if (!instances[i]) continue;
    WorkerEnv* env = runtime.env(i);
    // JS runs, and handles are dropped, by the environment's lock holder (never nested inside
    // other JS on this thread: runOrQueue queues it then).
    env->runOrQueue([env, raw = instances[i].release()] { releaseInstance(*env, std::unique_ptr<FilterInstance>(raw)); });
  }
}

FilterConfig::~FilterConfig() = default;

}  // namespace nodevoy
