#include "sandbox_stats.h"

#include <mutex>
#include <string>
#include <vector>

#include "envoy_api.h"

namespace nodevoy {

namespace {

const char* const kNames[] = {"nodevoy_uncaught_errors",  "nodevoy_cpu_budget_stops",    "nodevoy_environment_stops",
                              "nodevoy_heap_limit_stops", "nodevoy_environment_rebuilds", "nodevoy_settle_timeouts"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<int>(SandboxEvent::kCount));

struct Source {
  const void* owner;
  nv_config_envoy_ptr config_envoy;
  SandboxCounters counters;
};

std::mutex g_mutex;
std::vector<Source> g_sources;

}  // namespace

SandboxCounters defineSandboxCounters(nv_config_envoy_ptr config_envoy) {
  SandboxCounters counters;
  for (int i = 0; i < static_cast<int>(SandboxEvent::kCount); i++) {
    const std::string name = kNames[i];
    size_t id = 0;
    if (envoy.http_filter_config_define_counter(config_envoy, nv_module_buffer{name.data(), name.size()}, nullptr, 0,
                                                &id) == NV_METRICS_SUCCESS) {
      counters.ids[i] = id;
    }
  }
  return counters;
}

void addSandboxCounters(const void* owner, nv_config_envoy_ptr config_envoy, const SandboxCounters& counters) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sources.push_back(Source{owner, config_envoy, counters});
}

void removeSandboxCounters(const void* owner) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::erase_if(g_sources, [owner](const Source& s) { return s.owner == owner; });
}

void countSandboxEvent(SandboxEvent event) {
  if (envoy.http_filter_config_increment_counter == nullptr) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_sources.empty()) return;
  const Source& source = g_sources.back();
  const size_t id = source.counters.ids[static_cast<int>(event)];
  if (id != 0) envoy.http_filter_config_increment_counter(source.config_envoy, id, nullptr, 0, 1);
}

}  // namespace nodevoy
