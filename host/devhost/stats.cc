#include "stats.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "log.h"

namespace devhost {

StatsStore& stats() {
  static StatsStore* store = new StatsStore();  // never destroyed: workers may touch it during exit
  return *store;
}

void Histogram::record(uint64_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  count_++;
  if (samples_.size() < kMaxSamples) {
    samples_.push_back(value);
  } else {
    samples_[next_] = value;
    next_ = (next_ + 1) % kMaxSamples;
  }
}

uint64_t Histogram::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

std::string Histogram::summary() const {
  std::vector<uint64_t> sorted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sorted = samples_;
  }
  if (sorted.empty()) return "No recorded values";
  std::sort(sorted.begin(), sorted.end());
  static const double kQuantiles[] = {0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100};
  std::string out;
  for (double q : kQuantiles) {
    size_t index = static_cast<size_t>(std::ceil(q / 100.0 * static_cast<double>(sorted.size()))) ;
    index = index == 0 ? 0 : index - 1;
    if (index >= sorted.size()) index = sorted.size() - 1;
    if (!out.empty()) out += ' ';
    out += formatv("P%g(nan,%llu)", q, static_cast<unsigned long long>(sorted[index]));
  }
  return out;
}

std::atomic<uint64_t>& StatsStore::counter(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<std::atomic<uint64_t>>(0);
  return *slot;
}

std::atomic<int64_t>& StatsStore::gauge(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = gauges_[name];
  if (!slot) slot = std::make_unique<std::atomic<int64_t>>(0);
  return *slot;
}

Histogram& StatsStore::histogram(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = histograms_[name];
  if (!slot) slot = std::make_unique<Histogram>();
  return *slot;
}

std::string StatsStore::renderText(const std::string& filter) const {
  std::lock_guard<std::mutex> lock(mutex_);
  // Envoy prints counters and gauges together in name order, then histograms.
  std::map<std::string, std::string> lines;
  for (const auto& [name, value] : counters_) {
    if (filter.empty() || name.find(filter) != std::string::npos) lines[name] = std::to_string(value->load());
  }
  for (const auto& [name, value] : gauges_) {
    if (filter.empty() || name.find(filter) != std::string::npos) lines[name] = std::to_string(value->load());
  }
  std::string out;
  for (const auto& [name, value] : lines) out += name + ": " + value + "\n";
  for (const auto& [name, histogram] : histograms_) {
    if (filter.empty() || name.find(filter) != std::string::npos) out += name + ": " + histogram->summary() + "\n";
  }
  return out;
}

std::string StatsStore::renderJson(const std::string& filter) const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json list = nlohmann::json::array();
  std::map<std::string, nlohmann::json> values;
  for (const auto& [name, value] : counters_) {
    if (filter.empty() || name.find(filter) != std::string::npos) values[name] = value->load();
  }
  for (const auto& [name, value] : gauges_) {
    if (filter.empty() || name.find(filter) != std::string::npos) values[name] = value->load();
  }
  for (const auto& [name, value] : values) list.push_back({{"name", name}, {"value", value}});
  return nlohmann::json({{"stats", list}}).dump();
}

std::string StatsStore::renderPrometheus() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto promName = [](const std::string& name) {
    std::string out = "envoy_";
    for (char c : name) out.push_back((isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_');
    return out;
  };
  std::string out;
  for (const auto& [name, value] : counters_) {
    std::string p = promName(name);
    out += "# TYPE " + p + " counter\n" + p + "{} " + std::to_string(value->load()) + "\n";
  }
  for (const auto& [name, value] : gauges_) {
    std::string p = promName(name);
    out += "# TYPE " + p + " gauge\n" + p + "{} " + std::to_string(value->load()) + "\n";
  }
  return out;
}

}  // namespace devhost
