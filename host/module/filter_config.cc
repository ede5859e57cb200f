#include "filter_config.h"

#include <nlohmann/json.hpp>

#include "envoy_api.h"
#include "log.h"

namespace nodevoy {

namespace {
std::atomic<uint32_t> g_next_config_id{1};
std::unique_ptr<WorkerEnv> g_config_env;

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

WorkerEnv* configEnv(std::string* error) {
  if (!g_config_env) g_config_env = WorkerEnv::create(UINT32_MAX, error);
  return g_config_env.get();
}

void destroyConfigEnv() { g_config_env.reset(); }

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
    if (key != "bundle" && key != "filter" && key != "config" && key != "failOpen") {
      *error = "filter_config." + key + ": unknown field (expected bundle, filter, config, failOpen)";
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

  // Validate in the config environment: load the bundle, find the filter, parse its config.
  WorkerEnv* validation = configEnv(error);
  if (validation == nullptr) return nullptr;
  std::string problem;
  validation->runBlocking([&] {
    std::unique_ptr<FilterInstance> instance;
    problem = config->loadInto(*validation, &instance);
    if (instance) instance->release(*validation);
  });
  if (!problem.empty()) {
    *error = problem;
    return nullptr;
  }
  // Then in every worker environment, before traffic needs it: now when the environment is free
  // (always at start-up), else by its worker at its next hook.
  NodeRuntime& runtime = NodeRuntime::instance();
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
  v8::Isolate* isolate = env.isolate();
  v8::HandleScope handle_scope(isolate);
  v8::Local<v8::Context> context = env.context();
  v8::TryCatch try_catch(isolate);
  auto fail = [&](const char* what) {
    std::string message = what;
    if (try_catch.HasCaught()) {
      v8::Local<v8::Value> exception = try_catch.Exception();
      v8::String::Utf8Value text(isolate, exception);
      message += *text ? *text : "(exception)";
    }
    return message;
  };
  v8::Local<v8::Object> runtime = env.runtimeObject();
  v8::Local<v8::Value> load_fn, instantiate_fn;
  if (!runtime->Get(context, v8::String::NewFromUtf8Literal(isolate, "load")).ToLocal(&load_fn) ||
      !runtime->Get(context, v8::String::NewFromUtf8Literal(isolate, "instantiate")).ToLocal(&instantiate_fn)) {
    return fail("nodevoy runtime is broken: ");
  }
  v8::Local<v8::Value> path = v8::String::NewFromUtf8(isolate, bundle_path_.c_str()).ToLocalChecked();
  v8::Local<v8::Value> exports;
  if (!load_fn.As<v8::Function>()->Call(context, runtime, 1, &path).ToLocal(&exports)) {
    return fail(("cannot load bundle " + bundle_path_ + ": ").c_str());
  }
  v8::Local<v8::Value> args[] = {
      exports,
      v8::String::NewFromUtf8(isolate, filter_name_.c_str()).ToLocalChecked(),
      v8::String::NewFromUtf8(isolate, config_json_.c_str(), v8::NewStringType::kNormal,
                              static_cast<int>(config_json_.size())).ToLocalChecked(),
      v8::Integer::NewFromUnsigned(isolate, id_),
  };
  v8::Local<v8::Value> result;
  if (!instantiate_fn.As<v8::Function>()->Call(context, runtime, 4, args).ToLocal(&result)) {
    return fail(("filter '" + (filter_name_.empty() ? name_ : filter_name_) + "': ").c_str());
  }
  if (!result->IsObject()) return "nodevoy SDK returned no filter instance";
  v8::Local<v8::Object> object = result.As<v8::Object>();
  v8::Local<v8::Value> dispatch, hooks;
  if (!object->Get(context, v8::String::NewFromUtf8Literal(isolate, "dispatch")).ToLocal(&dispatch) ||
      !dispatch->IsFunction() ||
      !object->Get(context, v8::String::NewFromUtf8Literal(isolate, "hooks")).ToLocal(&hooks) || !hooks->IsUint32()) {
    return "the bundle's nodevoy SDK does not match this libnodevoy (instance without dispatch/hooks)";
  }
  auto instance = std::make_unique<FilterInstance>();
  instance->dispatch.Reset(isolate, dispatch.As<v8::Function>());
  v8::Local<v8::Value> dispose;
  if (object->Get(context, v8::String::NewFromUtf8Literal(isolate, "dispose")).ToLocal(&dispose) && dispose->IsFunction()) {
    instance->dispose.Reset(isolate, dispose.As<v8::Function>());
  }
  instance->hooks = hooks.As<v8::Uint32>()->Value();
  *out = std::move(instance);
  return "";
}

void FilterInstance::release(WorkerEnv& env) {
  v8::Isolate* isolate = env.isolate();
  if (!dispose.IsEmpty()) {
    v8::HandleScope handle_scope(isolate);
    v8::Local<v8::Context> context = env.context();
    v8::TryCatch try_catch(isolate);
    if (dispose.Get(isolate)->Call(context, v8::Undefined(isolate), 0, nullptr).IsEmpty()) {
      v8::String::Utf8Value message(isolate, try_catch.Exception());
      NV_ERROR("nodevoy: a filter's onDestroy threw: %s", *message ? *message : "(no message)");
    }
  }
  dispatch.Reset();
  dispose.Reset();
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
    FilterInstance* raw = instances[i].release();
    WorkerEnv* env = runtime.env(i);
    // JS runs and handles are released with the isolate locked.
    env->runOrQueue([raw, env] {
      raw->release(*env);
      delete raw;
    });
  }
}

FilterConfig::~FilterConfig() = default;

}  // namespace nodevoy
