// Which filter configs are alive, by id (the SDK names its config by id in config-level calls made
// outside any stream: metrics from background work, callouts) and by Envoy filter name (the name a
// per-route config is created with: on_http_filter_per_route_config_new gets only that name and
// its bytes, not the filter config it belongs to).
//
// Threads: any (A); one mutex, held for a map lookup.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace nodevoy {

class FilterConfig;

// M, while the config is created (before its validation runs).
void registerConfig(const std::shared_ptr<FilterConfig>& config);
// A, from FilterConfig::unload() (or a refused create).
void unregisterConfig(const FilterConfig* config);
// A. The live config with this id, or null.
std::shared_ptr<FilterConfig> configById(uint32_t id);
// A. The most recently created live config with this Envoy filter_name, or null.
std::shared_ptr<FilterConfig> latestConfigNamed(const std::string& name);
// A. The Envoy filter_names of the live configs, comma-separated, for messages.
std::string liveConfigNames();

}  // namespace nodevoy
