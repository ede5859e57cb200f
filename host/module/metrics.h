// The metrics a filter declares in defineFilter({ metrics }): defined in Envoy while its config is
// created (on_http_filter_config_new, the only time the ABI allows), then updated by id — per stream
// on the worker, or config-level from background work — with a cap on the label-value combinations
// (series) of each metric, so label values taken from requests cannot grow Envoy's stats without
// bound.
//
// Threads: define() runs on M inside config_new; admit() on any thread (A; each metric has its own
// mutex, held for one hash-set lookup).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "contract.gen.h"
#include "nodevoy_envoy_abi.h"

namespace nodevoy {

class MetricSet {
 public:
  // The label value every label takes once a metric has reached its series cap.
  static constexpr const char* kOverflowLabel = "overflow";

  struct Declaration {
    std::string name;
    contract::MetricKind kind = contract::MetricKind::Counter;
    std::vector<std::string> labels;
    uint32_t max_series = 0;  // label-value combinations kept before folding into kOverflowLabel
    bool operator==(const Declaration& other) const {
      return name == other.name && kind == other.kind && labels == other.labels && max_series == other.max_series;
    }
  };

  // M, inside config_new: defines every declared metric in Envoy. "" on success, else why.
  std::string define(nv_config_envoy_ptr config_envoy, std::vector<Declaration> declarations);
  // A: whether define() ran (a later environment's declarations must then equal these).
  bool defined() const { return defined_.load(std::memory_order_acquire); }
  // A, after define(): "" when the declarations are the ones defined, else how they differ.
  std::string compare(const std::vector<Declaration>& declarations) const;

  size_t size() const { return metrics_.size(); }
  const Declaration& declaration(size_t index) const { return metrics_[index]->declaration; }
  size_t envoyId(size_t index) const { return metrics_[index]->envoy_id; }

  // A. The label values to record: `values` itself while the metric is under its series cap or the
  // combination was seen before, else every label as kOverflowLabel (logged once per metric).
  // `filter_name` is for that log line.
  const std::vector<std::string>& admit(size_t index, const std::vector<std::string>& values,
                                        const std::string& filter_name) const;

 private:
  struct Metric {
    Declaration declaration;
    size_t envoy_id = 0;
    std::mutex mutex;
    std::unordered_set<std::string> series;  // label values joined with '\0'
    bool overflowed = false;
    std::vector<std::string> overflow_values;
  };
  std::vector<std::unique_ptr<Metric>> metrics_;  // written once by define(), read-only after
  std::atomic<bool> defined_{false};
};

}  // namespace nodevoy
