#include "config_registry.h"

#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "filter_config.h"

namespace nodevoy {

namespace {

struct Registry {
  std::mutex mutex;
  std::unordered_map<uint32_t, std::weak_ptr<FilterConfig>> by_id;
};

Registry& registry() {
  static Registry* instance = new Registry();  // never destroyed: configs may unload during exit
  return *instance;
}

}  // namespace

void registerConfig(const std::shared_ptr<FilterConfig>& config) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.by_id[config->id()] = config;
}

void unregisterConfig(const FilterConfig* config) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.by_id.erase(config->id());
}

std::shared_ptr<FilterConfig> configById(uint32_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto it = r.by_id.find(id);
  return it == r.by_id.end() ? nullptr : it->second.lock();
}

std::shared_ptr<FilterConfig> latestConfigNamed(const std::string& name) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::shared_ptr<FilterConfig> latest;
  for (const auto& [id, weak] : r.by_id) {
    auto config = weak.lock();
    if (config && config->name() == name && (!latest || config->id() > latest->id())) latest = config;
  }
  return latest;
}

std::string liveConfigNames() {
  Registry& r = registry();
  std::set<std::string> names;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    for (const auto& [id, weak] : r.by_id) {
      if (auto config = weak.lock()) names.insert(config->name());
    }
  }
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

}  // namespace nodevoy
