// Metric binding functions (issue 10): declaring a filter's metrics while its config is created, and
// updating them per stream (W) or config-level (L, from background work). The SDK checks names,
// label names and values first; these functions check again what decides what reaches Envoy.
#include <cmath>
#include <vector>

#include "binding.h"
#include "config_registry.h"
#include "envoy_api.h"
#include "filter_config.h"
#include "stream.h"

namespace nodevoy::binding {

namespace {

using contract::MetricKind;
using contract::MetricOp;

bool stringArray(const Napi::Value& value, std::vector<std::string>* out) {
  if (!value.IsArray()) return false;
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) return false;
    out->push_back(item.As<Napi::String>().Utf8Value());
  }
  return true;
}

// The metric, op, label values and value of an update (arguments from `first` on); false after throwing.
bool updateArgs(const Napi::CallbackInfo& info, size_t first, const MetricSet& metrics, size_t* index, MetricOp* op,
                std::vector<std::string>* labels, uint64_t* value) {
  Napi::Env env = info.Env();
  if (!info[first].IsNumber() || !info[first + 1].IsNumber() || !info[first + 3].IsNumber() ||
      !stringArray(info[first + 2], labels)) {
    invalidArgument(env, "metric update: bad arguments");
    return false;
  }
  const double raw_index = info[first].As<Napi::Number>().DoubleValue();
  if (raw_index < 0 || raw_index >= static_cast<double>(metrics.size()) || raw_index != std::floor(raw_index)) {
    invalidArgument(env, "metric update: no such metric");
    return false;
  }
  *index = static_cast<size_t>(raw_index);
  const MetricSet::Declaration& declaration = metrics.declaration(*index);
  const int raw_op = info[first + 1].As<Napi::Number>().Int32Value();
  *op = static_cast<MetricOp>(raw_op);
  const bool op_fits = declaration.kind == MetricKind::Counter     ? *op == MetricOp::Add
                       : declaration.kind == MetricKind::Histogram ? *op == MetricOp::Record
                                                                   : (*op == MetricOp::Add || *op == MetricOp::Subtract ||
                                                                      *op == MetricOp::Set);
  if (!op_fits) {
    invalidArgument(env, "metric '" + declaration.name + "': that operation does not apply to its kind");
    return false;
  }
  if (labels->size() != declaration.labels.size()) {
    invalidArgument(env, "metric '" + declaration.name + "': expected " + std::to_string(declaration.labels.size()) +
                             " label values, got " + std::to_string(labels->size()));
    return false;
  }
  const double raw_value = info[first + 3].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(raw_value) || raw_value < 0 || raw_value > 9007199254740991.0) {
    invalidArgument(env, "metric '" + declaration.name + "': the value must be a non-negative number");
    return false;
  }
  *value = static_cast<uint64_t>(std::llround(raw_value));
  return true;
}

std::vector<nv_module_buffer> buffers(const std::vector<std::string>& labels) {
  std::vector<nv_module_buffer> out;
  out.reserve(labels.size());
  for (const auto& label : labels) out.push_back(nv_module_buffer{label.data(), label.size()});
  return out;
}

template <class Fn>
Fn pick(MetricKind kind, MetricOp op, Fn counter_add, Fn gauge_add, Fn gauge_subtract, Fn gauge_set, Fn record) {
  if (kind == MetricKind::Counter) return counter_add;
  if (kind == MetricKind::Histogram) return record;
  return op == MetricOp::Add ? gauge_add : op == MetricOp::Subtract ? gauge_subtract : gauge_set;
}

}  // namespace

// (configId, [[name, kind, [labels...], maxSeries], ...]). L. Inside config_new (the validation
// environment) the metrics are defined in Envoy; later environments must declare the same.
Napi::Value declareMetrics(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsArray()) return invalidArgument(env, "declareMetrics: bad arguments");
  auto config = configById(info[0].As<Napi::Number>().Uint32Value());
  if (!config) return throwCoded(env, "NodevoyError", "NODEVOY_ERR_INVALID_STATE", "declareMetrics: the filter config is gone");
  std::vector<MetricSet::Declaration> declarations;
  Napi::Array list = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsArray()) return invalidArgument(env, "declareMetrics: bad declaration");
    Napi::Array row = item.As<Napi::Array>();
    MetricSet::Declaration declaration;
    const Napi::Value kind = row.Get(1u), max_series = row.Get(3u);
    if (!row.Get(0u).IsString() || !kind.IsNumber() || !max_series.IsNumber() ||
        !stringArray(row.Get(2u), &declaration.labels)) {
      return invalidArgument(env, "declareMetrics: bad declaration");
    }
    declaration.name = row.Get(0u).As<Napi::String>().Utf8Value();
    const int raw_kind = kind.As<Napi::Number>().Int32Value();
    if (raw_kind < 0 || raw_kind > static_cast<int>(MetricKind::Histogram)) {
      return invalidArgument(env, "declareMetrics: bad metric kind");
    }
    declaration.kind = static_cast<MetricKind>(raw_kind);
    declaration.max_series = max_series.As<Napi::Number>().Uint32Value();
    declarations.push_back(std::move(declaration));
  }
  std::string problem;
  if (config->metrics.defined()) {
    problem = config->metrics.compare(declarations);
  } else if (config->defining()) {
    if (!config->withConfigEnvoy([&](nv_config_envoy_ptr ce) { problem = config->metrics.define(ce, declarations); })) {
      problem = "the filter config is gone";
    }
  } else {
    problem = "metrics can be declared only while the filter config is created";
  }
  if (!problem.empty()) return throwCoded(env, "NodevoyError", "NODEVOY_ERR_INVALID_STATE", problem);
  return env.Undefined();
}

// (token, metric, op, [labels...], value) -> MetricUpdate. W: through the stream (every Envoy).
Napi::Value streamMetric(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = streamOf(info, "metric");
  if (stream == nullptr) return env.Undefined();
  const MetricSet& metrics = stream->config().metrics;
  size_t index;
  MetricOp op;
  std::vector<std::string> labels;
  uint64_t value;
  if (!updateArgs(info, 1, metrics, &index, &op, &labels, &value)) return env.Undefined();
  const MetricSet::Declaration& declaration = metrics.declaration(index);
  auto fn = pick(declaration.kind, op, envoy.http_filter_increment_counter, envoy.http_filter_increment_gauge,
                 envoy.http_filter_decrement_gauge, envoy.http_filter_set_gauge, envoy.http_filter_record_histogram_value);
  if (fn == nullptr) {
    return throwCoded(env, "NodevoyError", "NODEVOY_ERR_UNSUPPORTED",
                      "metric '" + declaration.name + "': this Envoy has no per-stream update for its kind");
  }
  auto values = buffers(metrics.admit(index, labels, stream->config().name()));
  fn(stream->envoyFilter(), metrics.envoyId(index), values.empty() ? nullptr : values.data(), values.size(), value);
  return Napi::Number::New(env, static_cast<int>(contract::MetricUpdate::Done));
}

// (configId, metric, op, [labels...], value) -> MetricUpdate. L: config-level, outside any stream
// (background work). NeedsStream when this Envoy has no config-level update for the kind (v1.38):
// the SDK then applies it through the next stream of the config.
Napi::Value configMetric(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return invalidArgument(env, "metric update: bad arguments");
  auto config = configById(info[0].As<Napi::Number>().Uint32Value());
  if (!config) return Napi::Number::New(env, static_cast<int>(contract::MetricUpdate::Done));  // gone: dropped
  size_t index;
  MetricOp op;
  std::vector<std::string> labels;
  uint64_t value;
  if (!updateArgs(info, 1, config->metrics, &index, &op, &labels, &value)) return env.Undefined();
  const MetricSet::Declaration& declaration = config->metrics.declaration(index);
  auto fn = pick(declaration.kind, op, envoy.http_filter_config_increment_counter, envoy.http_filter_config_increment_gauge,
                 envoy.http_filter_config_decrement_gauge, envoy.http_filter_config_set_gauge,
                 envoy.http_filter_config_record_histogram_value);
  if (fn == nullptr) return Napi::Number::New(env, static_cast<int>(contract::MetricUpdate::NeedsStream));
  auto values = buffers(config->metrics.admit(index, labels, config->name()));
  config->withConfigEnvoy([&](nv_config_envoy_ptr ce) {
    fn(ce, config->metrics.envoyId(index), values.empty() ? nullptr : values.data(), values.size(), value);
  });
  return Napi::Number::New(env, static_cast<int>(contract::MetricUpdate::Done));
}

}  // namespace nodevoy::binding
