#include "metrics.h"

#include "envoy_api.h"
#include "log.h"

namespace nodevoy {

namespace {

const char* kindName(contract::MetricKind kind) {
  switch (kind) {
    case contract::MetricKind::Counter: return "counter";
    case contract::MetricKind::Gauge: return "gauge";
    case contract::MetricKind::Histogram: return "histogram";
  }
  return "metric";
}

}  // namespace

std::string MetricSet::define(nv_config_envoy_ptr config_envoy, std::vector<Declaration> declarations) {
  if (defined()) return compare(declarations);
  for (auto& declaration : declarations) {
    auto define_fn = declaration.kind == contract::MetricKind::Counter ? envoy.http_filter_config_define_counter
                     : declaration.kind == contract::MetricKind::Gauge ? envoy.http_filter_config_define_gauge
                                                                        : envoy.http_filter_config_define_histogram;
    if (define_fn == nullptr) {
      return std::string("metric '") + declaration.name + "': this Envoy cannot define a " + kindName(declaration.kind);
    }
    std::vector<nv_module_buffer> labels;
    for (const auto& label : declaration.labels) labels.push_back(nv_module_buffer{label.data(), label.size()});
    size_t id = 0;
    const nv_metrics_result result =
        define_fn(config_envoy, nv_module_buffer{declaration.name.data(), declaration.name.size()},
                  labels.empty() ? nullptr : labels.data(), labels.size(), &id);
    if (result != NV_METRICS_SUCCESS) {
      return std::string("metric '") + declaration.name + "': Envoy refused to define it (metrics result " +
             std::to_string(static_cast<int>(result)) +
             (result == NV_METRICS_FROZEN ? ": metrics can be defined only while the filter config is created)" : ")");
    }
    auto metric = std::make_unique<Metric>();
    metric->declaration = std::move(declaration);
    metric->envoy_id = id;
    metric->overflow_values.assign(metric->declaration.labels.size(), kOverflowLabel);
    metrics_.push_back(std::move(metric));
  }
  defined_.store(true, std::memory_order_release);
  return "";
}

std::string MetricSet::compare(const std::vector<Declaration>& declarations) const {
  if (declarations.size() != metrics_.size()) {
    return "the bundle declares " + std::to_string(declarations.size()) + " metrics, but its config defined " +
           std::to_string(metrics_.size()) + " (did the bundle file change after the config was loaded?)";
  }
  for (size_t i = 0; i < declarations.size(); i++) {
    if (!(declarations[i] == metrics_[i]->declaration)) {
      return "metric '" + declarations[i].name + "' differs from the one its config defined ('" +
             metrics_[i]->declaration.name + "'; did the bundle file change after the config was loaded?)";
    }
  }
  return "";
}

const std::vector<std::string>& MetricSet::admit(size_t index, const std::vector<std::string>& values,
                                                 const std::string& filter_name) const {
  Metric& metric = *metrics_[index];
  if (values.empty()) return values;
  std::string key;
  for (const auto& value : values) {
    key += value;
    key.push_back('\0');
  }
  bool first_overflow = false;
  {
    std::lock_guard<std::mutex> lock(metric.mutex);
    if (metric.series.count(key) > 0) return values;
    if (metric.series.size() < metric.declaration.max_series) {
      metric.series.insert(std::move(key));
      return values;
    }
    first_overflow = !metric.overflowed;
    metric.overflowed = true;
  }
  if (first_overflow) {
    NV_WARN("nodevoy: filter '%s': metric '%s' reached its cap of %u label-value combinations; new combinations are "
            "recorded with every label set to '%s' (raise maxSeries in its declaration, or use labels with fewer values)",
            filter_name.c_str(), metric.declaration.name.c_str(), metric.declaration.max_series, kOverflowLabel);
  }
  return metric.overflow_values;
}

}  // namespace nodevoy
