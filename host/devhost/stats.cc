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

const std::vector<double>& Histogram::bucketBounds() {
  // Envoy's default histogram bucket bounds.
  static const std::vector<double> bounds = {0.5,   1,     5,     10,     25,     50,     100,     250,     500,    1000,
                                             2500,  5000,  10000, 30000,  60000,  300000, 600000,  1800000, 3600000};
  return bounds;
}

void Histogram::record(uint64_t value) {
  std::lock_guard<std::mutex> lock(mutex_);
  count_++;
  sum_ += value;
  if (buckets_.empty()) buckets_.assign(bucketBounds().size() + 1, 0);
  const auto& bounds = bucketBounds();
  size_t bucket = 0;
  while (bucket < bounds.size() && static_cast<double>(value) > bounds[bucket]) bucket++;
  buckets_[bucket]++;
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

uint64_t Histogram::sum() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sum_;
}

std::vector<uint64_t> Histogram::bucketCounts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<uint64_t> cumulative(bucketBounds().size(), 0);
  uint64_t running = 0;
  for (size_t i = 0; i < cumulative.size(); i++) {
    running += buckets_.empty() ? 0 : buckets_[i];
    cumulative[i] = running;
  }
  return cumulative;
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

void StatsStore::tag(const std::string& name, const std::string& tag_extracted,
                     const std::vector<std::pair<std::string, std::string>>& tags) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (tagged_.count(name) == 0) tagged_[name] = Tagged{tag_extracted, tags};
}

std::string StatsStore::renderPrometheus() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto promName = [](const std::string& name) {
    std::string out = "envoy_";
    for (char c : name) out.push_back((isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_');
    return out;
  };
  auto escape = [](const std::string& value) {
    std::string out;
    for (char c : value) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    return out;
  };
  // Each stat as (family, labels): a tagged module metric is its tag-extracted name with its tags.
  auto series = [&](const std::string& name) -> std::pair<std::string, std::string> {
    auto it = tagged_.find(name);
    if (it == tagged_.end()) return {promName(name), ""};
    std::string labels;
    for (const auto& [key, value] : it->second.tags) {
      labels += (labels.empty() ? "" : ",") + key + "=\"" + escape(value) + "\"";
    }
    return {promName(it->second.tag_extracted), labels};
  };
  // Families in name order, one TYPE line each, as Envoy prints them.
  std::map<std::string, std::pair<const char*, std::vector<std::string>>> families;
  for (const auto& [name, value] : counters_) {
    auto [family, labels] = series(name);
    auto& entry = families[family];
    entry.first = "counter";
    entry.second.push_back(family + "{" + labels + "} " + std::to_string(value->load()));
  }
  for (const auto& [name, value] : gauges_) {
    auto [family, labels] = series(name);
    auto& entry = families[family];
    entry.first = "gauge";
    entry.second.push_back(family + "{" + labels + "} " + std::to_string(value->load()));
  }
  for (const auto& [name, histogram] : histograms_) {
    auto [family, labels] = series(name);
    auto& entry = families[family];
    entry.first = "histogram";
    const std::string sep = labels.empty() ? "" : ",";
    const auto counts = histogram->bucketCounts();
    const auto& bounds = Histogram::bucketBounds();
    for (size_t i = 0; i < bounds.size(); i++) {
      entry.second.push_back(family + "_bucket{" + labels + sep + "le=\"" + formatv("%g", bounds[i]) + "\"} " +
                             std::to_string(counts[i]));
    }
    entry.second.push_back(family + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(histogram->count()));
    entry.second.push_back(family + "_sum{" + labels + "} " + std::to_string(histogram->sum()));
    entry.second.push_back(family + "_count{" + labels + "} " + std::to_string(histogram->count()));
  }
  std::string out;
  for (const auto& [family, entry] : families) {
    out += "# TYPE " + family + " " + entry.first + "\n";
    for (const auto& line : entry.second) out += line + "\n";
  }
  return out;
}

}  // namespace devhost
