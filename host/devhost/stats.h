// Envoy-like stats store for the dev host: counters, gauges and histograms, rendered by /stats.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace devhost {

class Histogram {
 public:
  // Any thread.
  void record(uint64_t value);
  // Any thread. Envoy-style summary "P0(nan,v) P25(nan,v) ..." over all recorded values.
  std::string summary() const;
  uint64_t count() const;
  // Any thread. Cumulative counts per bucket upper bound (Envoy's default bounds), and the sum.
  std::vector<uint64_t> bucketCounts() const;
  uint64_t sum() const;
  static const std::vector<double>& bucketBounds();

 private:
  static constexpr size_t kMaxSamples = 100000;
  mutable std::mutex mutex_;
  std::vector<uint64_t> samples_;  // ring of the newest kMaxSamples values
  size_t next_ = 0;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  std::vector<uint64_t> buckets_;  // non-cumulative, by bucketBounds() index (+1 for above all)
};

class StatsStore {
 public:
  // Any thread. References stay valid for the life of the store.
  std::atomic<uint64_t>& counter(const std::string& name);
  std::atomic<int64_t>& gauge(const std::string& name);
  Histogram& histogram(const std::string& name);

  // Any thread. Records that `name` is the tagged form of `tag_extracted` with these tags (the
  // _vec metrics of modules), so /stats/prometheus prints it as tag_extracted{tag="value",...}.
  void tag(const std::string& name, const std::string& tag_extracted,
           const std::vector<std::pair<std::string, std::string>>& tags);

  // Any thread. filter: substring a stat name must contain (empty = all).
  std::string renderText(const std::string& filter) const;
  std::string renderJson(const std::string& filter) const;
  std::string renderPrometheus() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::atomic<uint64_t>>> counters_;
  std::map<std::string, std::unique_ptr<std::atomic<int64_t>>> gauges_;
  std::map<std::string, std::unique_ptr<Histogram>> histograms_;
  struct Tagged {
    std::string tag_extracted;
    std::vector<std::pair<std::string, std::string>> tags;
  };
  std::map<std::string, Tagged> tagged_;
};

StatsStore& stats();

}  // namespace devhost
