#include "server.h"

#include <strings.h>

#include <algorithm>
#include <cstring>

#include <nlohmann/json.hpp>

#include "envoy_version.h"
#include "log.h"
#include "upstream.h"

namespace devhost {

thread_local Worker* tls_worker = nullptr;

Server& Server::instance() {
  static Server* server = new Server();  // lives until exit; workers may still read it
  return *server;
}

template <class T>
std::shared_ptr<T> makeMainThreadShared(T* p) {
  return std::shared_ptr<T>(p, [](T* object) {
    Server& server = Server::instance();
    if (server.isMainThread()) {
      delete object;
    } else {
      server.main_dispatcher.post([object] { delete object; });
    }
  });
}

// ---- FilterConfig ----------------------------------------------------------------------------

namespace {
std::string sanitizeStatName(const std::string& name) {
  if (name.empty()) return "default";
  std::string out = name;
  for (char& c : out) {
    if (c == ':' || c == '\0') c = '_';
  }
  return out;
}
// Envoy counts load failures under dynamic_modules.* since v1.39 (dynamic_module_stats.cc is not in v1.38).
void countLoadFailure(const std::string& stat) {
  if (envoyAtLeast(EnvoyVersion::V1_39)) stats().counter(stat).fetch_add(1);
}
}  // namespace

std::shared_ptr<FilterConfig> FilterConfig::create(const DynamicModuleFilterSpec& spec, std::string* error,
                                                   std::string* error_stat) {
  // Every stream holds its chain and so its filter configs: like Envoy's DynamicModuleHttpFilter holding
  // config_, the last reference may drop on a worker (a reload with streams in flight), and
  // on_http_filter_config_destroy runs there.
  std::shared_ptr<FilterConfig> config(new FilterConfig(spec));
  auto count_failure = [&](const char* leaf) {
    *error_stat = std::string("dynamic_modules.") + leaf + ".config_name." + sanitizeStatName(spec.filter_name);
    countLoadFailure(*error_stat);
  };
  config->module_ = DynamicModule::load(spec.module, error);
  if (!config->module_) {
    count_failure("module_load_error");
    return nullptr;
  }
  config->hooks_ = config->module_->httpFilterHooks(error);
  if (!config->hooks_) {
    count_failure("config_init_error");
    return nullptr;
  }
  nv_envoy_buffer name{spec.filter_name.data(), spec.filter_name.size()};
  nv_envoy_buffer bytes{spec.filter_config.data(), spec.filter_config.size()};
  config->defining_ = true;
  config->module_config_ = config->hooks_->config_new(config.get(), name, bytes);
  config->defining_ = false;  // metrics are frozen from here on
  if (config->module_config_ == nullptr) {
    *error = "Failed to initialize dynamic module HTTP filter config '" + spec.filter_name +
             "': on_http_filter_config_new returned null";
    count_failure("config_init_error");
    return nullptr;
  }
  return config;
}

FilterConfig::~FilterConfig() {
  alive = false;
  if (module_config_ == nullptr || hooks_ == nullptr) return;
  const std::string where = tls_worker != nullptr ? "worker " + std::to_string(tls_worker->index())
                            : Server::instance().isMainThread() ? "the main thread"
                                                                : "a non-Envoy thread";
  DH_LOG(DynamicModules, Debug, "destroying filter config '%s' on %s", spec_.instance_name.c_str(), where.c_str());
  hooks_->config_destroy(module_config_);
}

std::string FilterConfig::metricStatName(const ModuleMetric& metric, const std::vector<std::string>& label_values) const {
  std::string name = spec_.module.metrics_namespace + "." + metric.name;
  for (size_t i = 0; i < metric.label_names.size() && i < label_values.size(); i++) {
    name += "." + metric.label_names[i] + "." + label_values[i];
  }
  return name;
}

// ---- RouteFilterConfig -----------------------------------------------------------------------

std::shared_ptr<RouteFilterConfig> RouteFilterConfig::create(const PerFilterConfigSpec& spec, std::string* error) {
  // Envoy v1.40 releases per-route module configs on the main thread; earlier releases wherever the last
  // reference drops (a worker, after a route update with streams in flight).
  std::shared_ptr<RouteFilterConfig> config = envoyAtLeast(EnvoyVersion::V1_40)
                                                  ? makeMainThreadShared(new RouteFilterConfig())
                                                  : std::shared_ptr<RouteFilterConfig>(new RouteFilterConfig());
  config->disabled = spec.disabled;
  if (!spec.has_module_config) return config;
  config->module_ = DynamicModule::load(spec.module, error);
  if (!config->module_) return nullptr;
  if (!config->module_->resolvePerRouteHooks(error)) return nullptr;
  const HttpFilterHooks* hooks = config->module_->httpFilterHooks(error);
  nv_envoy_buffer name{spec.filter_name.data(), spec.filter_name.size()};
  nv_envoy_buffer bytes{spec.filter_config.data(), spec.filter_config.size()};
  config->module_config_ = hooks->per_route_config_new(name, bytes);
  if (config->module_config_ == nullptr) {
    *error = "Failed to create per-route config '" + spec.filter_name + "': on_http_filter_per_route_config_new returned null";
    return nullptr;
  }
  config->destroy_ = hooks->per_route_config_destroy;
  return config;
}

RouteFilterConfig::~RouteFilterConfig() {
  if (module_config_ != nullptr && destroy_ != nullptr) destroy_(module_config_);
}

// ---- HttpChain -------------------------------------------------------------------------------

std::shared_ptr<HttpChain> HttpChain::create(const ListenerSpec& listener, const std::map<std::string, Cluster*>& clusters,
                                             std::string* error) {
  std::shared_ptr<HttpChain> chain(new HttpChain());  // released by its last stream, on that stream's worker
  chain->spec_ = listener.hcm;
  const std::string prefix = "http." + listener.hcm.stat_prefix + ".";
  auto& s = chain->hcm_stats;
  s.rq_total = &stats().counter(prefix + "downstream_rq_total");
  for (int i = 1; i <= 5; i++) s.rq_xx[i] = &stats().counter(prefix + "downstream_rq_" + std::to_string(i) + "xx");
  s.rq_xx[0] = s.rq_xx[5];
  s.rq_active = &stats().gauge(prefix + "downstream_rq_active");
  s.cx_total = &stats().counter(prefix + "downstream_cx_total");
  s.cx_active = &stats().gauge(prefix + "downstream_cx_active");
  s.rq_too_large = &stats().counter(prefix + "downstream_rq_too_large");
  s.flow_control_paused_reading = &stats().counter(prefix + "downstream_flow_control_paused_reading_total");
  s.flow_control_resumed_reading = &stats().counter(prefix + "downstream_flow_control_resumed_reading_total");
  s.filter_init_failed = &stats().counter(prefix + "devhost.filter_init_failed");

  for (const auto& filter_spec : listener.hcm.module_filters) {
    std::string stat;
    auto config = FilterConfig::create(filter_spec, error, &stat);
    if (!config) {
      *error = "Unable to load dynamic module " +
               (filter_spec.module.name.empty() ? filter_spec.module.local_path : filter_spec.module.name) +
               " for HTTP filter '" + filter_spec.instance_name + "': " + *error;
      return nullptr;
    }
    chain->filters_.push_back(std::move(config));
  }

  auto per_filter = [&](const std::map<std::string, PerFilterConfigSpec>& specs,
                        std::map<std::string, std::shared_ptr<RouteFilterConfig>>& out) {
    for (const auto& [name, spec] : specs) {
      auto config = RouteFilterConfig::create(spec, error);
      if (!config) {
        countLoadFailure("dynamic_modules.per_route_config_error.config_name." + sanitizeStatName(spec.filter_name));
        *error = "typed_per_filter_config for '" + name + "': " + *error;
        return false;
      }
      out[name] = std::move(config);
    }
    return true;
  };
  for (const auto& vh_spec : listener.hcm.virtual_hosts) {
    VirtualHostEntry vh;
    vh.spec = vh_spec;
    if (!per_filter(vh_spec.per_filter, vh.per_filter)) return nullptr;
    for (const auto& route_spec : vh_spec.routes) {
      RouteEntry entry;
      entry.spec = route_spec;
      if (!route_spec.has_direct_response) {
        auto it = clusters.find(route_spec.cluster);
        entry.cluster = it == clusters.end() ? nullptr : it->second;
      }
      if (!per_filter(route_spec.per_filter, entry.per_filter)) return nullptr;
      for (const auto& [ns, keys] : route_spec.metadata_json) {
        for (const auto& [key, json_text] : keys) {
          nlohmann::json value = nlohmann::json::parse(json_text);
          if (value.is_number()) entry.metadata[ns][key] = value.get<double>();
          if (value.is_string()) entry.metadata[ns][key] = value.get<std::string>();
          if (value.is_boolean()) entry.metadata[ns][key] = value.get<bool>();
        }
      }
      vh.routes.push_back(std::move(entry));
    }
    chain->vhosts_.push_back(std::move(vh));
  }
  return chain;
}

namespace {

bool startsWith(const std::string& text, const std::string& prefix, bool case_sensitive) {
  if (text.size() < prefix.size()) return false;
  if (case_sensitive) return text.compare(0, prefix.size(), prefix) == 0;
  return strncasecmp(text.data(), prefix.data(), prefix.size()) == 0;
}

// Envoy's domain matching: exact, then longest suffix wildcard, then longest prefix wildcard, then "*".
int domainScore(const std::string& domain, const std::string& host) {
  if (domain == "*") return 1;
  if (strcasecmp(domain.c_str(), host.c_str()) == 0) return 1000000;
  if (domain.size() > 1 && domain[0] == '*') {
    std::string suffix = domain.substr(1);
    if (host.size() > suffix.size() &&
        strcasecmp(host.c_str() + host.size() - suffix.size(), suffix.c_str()) == 0) {
      return 100000 + static_cast<int>(suffix.size());
    }
  }
  if (domain.size() > 1 && domain.back() == '*') {
    std::string prefix = domain.substr(0, domain.size() - 1);
    if (host.size() > prefix.size() && strncasecmp(host.c_str(), prefix.c_str(), prefix.size()) == 0) {
      return 1000 + static_cast<int>(prefix.size());
    }
  }
  return 0;
}

}  // namespace

const RouteEntry* HttpChain::route(const HeaderMap& request_headers, const VirtualHostEntry** vhost_out) const {
  *vhost_out = nullptr;
  const std::string* authority = request_headers.get(":authority");
  std::string host = authority ? *authority : "";
  std::string host_no_port = host;
  size_t colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']') == std::string::npos) host_no_port = host.substr(0, colon);
  const VirtualHostEntry* best = nullptr;
  int best_score = 0;
  for (const auto& vh : vhosts_) {
    for (const auto& domain : vh.spec.domains) {
      int score = std::max(domainScore(domain, host), domainScore(domain, host_no_port));
      if (score > best_score) {
        best_score = score;
        best = &vh;
      }
    }
  }
  if (best == nullptr) return nullptr;
  *vhost_out = best;
  const std::string* path_header = request_headers.get(":path");
  std::string path = path_header ? *path_header : "";
  std::string path_only = path.substr(0, path.find('?'));
  for (const auto& entry : best->routes) {
    const auto& spec = entry.spec;
    if (spec.match == RouteSpec::Match::Prefix) {
      if (startsWith(path, spec.match_value, spec.case_sensitive)) return &entry;
    } else if (spec.case_sensitive ? path_only == spec.match_value
                                   : strcasecmp(path_only.c_str(), spec.match_value.c_str()) == 0) {
      return &entry;
    }
  }
  return nullptr;
}

// ---- Worker ------------------------------------------------------------------------------------

UpstreamPool& Worker::pool(const Cluster* cluster) {
  auto& slot = pools[cluster];
  if (!slot) slot = std::make_unique<UpstreamPool>(*this, *cluster);
  return *slot;
}

}  // namespace devhost
