#include "filter_config.h"

#include <nlohmann/json.hpp>

#include "config_registry.h"
#include "contract.gen.h"
#include "envoy_api.h"
#include "js_call.h"
#include "log.h"
#include "node_runtime.h"
#include "worker_env.h"

namespace nodevoy {

namespace {
std::atomic<uint32_t> g_next_config_id{1};

// Live configs that can count uncaught errors; a config leaves before its Envoy pointer dies.
std::mutex g_uncaught_mutex;
std::vector<FilterConfig*> g_uncaught_counters;

void addUncaughtCounter(FilterConfig* config) {
  std::lock_guard<std::mutex> lock(g_uncaught_mutex);
  g_uncaught_counters.push_back(config);
}

void removeUncaughtCounter(FilterConfig* config) {
  std::lock_guard<std::mutex> lock(g_uncaught_mutex);
  std::erase(g_uncaught_counters, config);
}
}  // namespace

void countUncaughtError() {
  if (envoy.http_filter_config_increment_counter == nullptr) return;
  std::lock_guard<std::mutex> lock(g_uncaught_mutex);
  if (g_uncaught_counters.empty()) return;
  FilterConfig* config = g_uncaught_counters.back();
  envoy.http_filter_config_increment_counter(config->configEnvoy(), config->uncaught_counter, nullptr, 0, 1);
}

std::shared_ptr<FilterConfig> FilterConfig::create(nv_config_envoy_ptr config_envoy, const std::string& name,
                                                   const std::string& json, std::string* error) {
  std::shared_ptr<FilterConfig> config(new FilterConfig());
  config->name_ = name;
  config->config_envoy_ = config_envoy;
  config->id_ = g_next_config_id.fetch_add(1);
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(json.empty() ? std::string("{}") : json);
  } catch (const nlohmann::json::exception& e) {
    *error = std::string("filter_config is not JSON (use a google.protobuf.Struct): ") + e.what();
    return nullptr;
  }
  if (!parsed.is_object()) {
    *error = "filter_config must be an object: {\"bundle\": \"/path/to/bundle.js\", \"filter\": \"name\", \"config\": {...}}";
    return nullptr;
  }
  for (const auto& [key, value] : parsed.items()) {
    bool known = false;
    std::string expected;
    for (const char* field : contract::kFilterConfigFields) {
      known = known || key == field;
      expected += (expected.empty() ? "" : ", ") + std::string(field);
    }
    if (!known) {
      *error = "filter_config." + key + ": unknown field (expected " + expected + ")";
      return nullptr;
    }
  }
  if (!parsed.contains("bundle") || !parsed["bundle"].is_string() || parsed["bundle"].get<std::string>().empty()) {
    *error = "filter_config.bundle: required, the absolute path of the bundle that `nodevoy build` wrote";
    return nullptr;
  }
  config->bundle_path_ = parsed["bundle"].get<std::string>();
  if (config->bundle_path_[0] != '/') {
    *error = "filter_config.bundle: must be an absolute path, got \"" + config->bundle_path_ + "\"";
    return nullptr;
  }
  if (parsed.contains("filter")) {
    if (!parsed["filter"].is_string()) {
      *error = "filter_config.filter: must be a string, the name given to defineFilter()";
      return nullptr;
    }
    config->filter_name_ = parsed["filter"].get<std::string>();
  }
  if (parsed.contains("failOpen")) {
    if (!parsed["failOpen"].is_boolean()) {
      *error = "filter_config.failOpen: must be true or false";
      return nullptr;
    }
    config->fail_open_ = parsed["failOpen"].get<bool>();
  }
  config->config_json_ = parsed.contains("config") ? parsed["config"].dump() : "{}";

  // Metrics may only be defined now, inside config_new.
  std::string metric = "nodevoy_filter_errors";
  size_t metric_id = 0;
  nv_module_buffer metric_name{metric.data(), metric.size()};
  if (envoy.http_filter_config_define_counter(config_envoy, metric_name, nullptr, 0, &metric_id) == NV_METRICS_SUCCESS) {
    config->errors_counter = metric_id;
  }
  std::string uncaught = "nodevoy_uncaught_errors";
  if (envoy.http_filter_config_define_counter(config_envoy, nv_module_buffer{uncaught.data(), uncaught.size()}, nullptr, 0,
                                              &metric_id) == NV_METRICS_SUCCESS) {
    config->uncaught_counter = metric_id;
  }

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
  if (config->uncaught_counter != 0) addUncaughtCounter(config.get());
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
  return instantiateFilter(env, bundle_path_, filter_name_, config_json_, id_, name_, out);
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

void FilterConfig::unload() {
  removeUncaughtCounter(this);
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
