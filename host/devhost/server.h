// The dev host's process-wide objects: filter configs (the ABI's config_envoy_ptr), route tables,
// clusters, listeners and worker threads.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include "config.h"
#include "dispatcher.h"
#include "header_map.h"
#include "module.h"
#include "stats.h"
#include "upstream.h"

struct evconnlistener;

namespace devhost {

class FilterSlot;

using MetadataValue = std::variant<double, std::string, bool>;
using MetadataMap = std::map<std::string, std::map<std::string, MetadataValue>>;
class ServerConnection;

struct ModuleMetric {
  enum class Kind { Counter, Gauge, Histogram } kind;
  std::string name;
  std::vector<std::string> label_names;
  // Unlabelled metrics resolve once; labelled ones per label-value combination (cached).
  std::atomic<uint64_t>* counter = nullptr;
  std::atomic<int64_t>* gauge = nullptr;
  Histogram* histogram = nullptr;
};

// Wraps p in a shared_ptr whose last release deletes p on the main thread (per-route configs in Envoy
// v1.40 mode), even when a worker's stream holds the last reference.
template <class T>
std::shared_ptr<T> makeMainThreadShared(T* p);

// One DynamicModuleFilter entry of an HTTP filter chain; the ABI's config_envoy_ptr.
class FilterConfig : public std::enable_shared_from_this<FilterConfig> {
 public:
  // Main thread. Loads the module, resolves hooks and calls on_http_filter_config_new. Null and
  // *error on failure (the caller counts it and refuses the config).
  static std::shared_ptr<FilterConfig> create(const DynamicModuleFilterSpec& spec, std::string* error,
                                              std::string* error_stat);
  // The thread that drops the last reference: main, or the worker of the last stream using it (as in
  // Envoy after an LDS/ECDS update with streams in flight). Calls on_http_filter_config_destroy.
  ~FilterConfig();

  const DynamicModuleFilterSpec& spec() const { return spec_; }
  const HttpFilterHooks& hooks() const { return *hooks_; }
  nv_config_module_ptr moduleConfig() const { return module_config_; }
  const std::shared_ptr<DynamicModule>& module() const { return module_; }

  // Metrics defined by the module. Like Envoy, ids are 1-based and each kind has two id spaces:
  // without labels and with labels.
  bool defining() const { return defining_; }
  std::vector<std::unique_ptr<ModuleMetric>>& metrics(ModuleMetric::Kind kind, bool labelled) {
    return metrics_[static_cast<int>(kind)][labelled ? 1 : 0];
  }
  // "<metrics_namespace>.<name>" followed by ".<label>.<value>" for each label, as Envoy names them.
  std::string metricStatName(const ModuleMetric& metric, const std::vector<std::string>& label_values) const;

  std::atomic<bool> alive{true};  // false once destroy has started; config schedulers check it

 private:
  explicit FilterConfig(const DynamicModuleFilterSpec& spec) : spec_(spec) {}
  DynamicModuleFilterSpec spec_;
  std::shared_ptr<DynamicModule> module_;
  const HttpFilterHooks* hooks_ = nullptr;
  nv_config_module_ptr module_config_ = nullptr;
  bool defining_ = false;
  std::vector<std::unique_ptr<ModuleMetric>> metrics_[3][2];
};

// A per-route module config (the ABI's per_route_config_module_ptr): destroyed on the main thread in
// Envoy v1.40 mode, where the last reference drops before.
class RouteFilterConfig {
 public:
  static std::shared_ptr<RouteFilterConfig> create(const PerFilterConfigSpec& spec, std::string* error);
  ~RouteFilterConfig();
  nv_route_config_module_ptr moduleConfig() const { return module_config_; }
  std::optional<bool> disabled;

 private:
  std::shared_ptr<DynamicModule> module_;
  nv_route_config_module_ptr module_config_ = nullptr;
  void (*destroy_)(nv_route_config_module_ptr) = nullptr;
};

struct Cluster {
  ClusterSpec spec;
  std::atomic<size_t> next_endpoint{0};
  std::atomic<uint64_t>* upstream_rq_total;
  std::atomic<uint64_t>* upstream_cx_total;
  std::atomic<uint64_t>* upstream_cx_connect_fail;
  std::atomic<uint64_t>* upstream_rq_timeout;
  std::atomic<int64_t>* upstream_cx_active;
  std::atomic<int64_t>* upstream_rq_active;
};

struct RouteEntry {
  RouteSpec spec;
  MetadataMap metadata;  // route filter_metadata, scalars only
  const Cluster* cluster = nullptr;
  std::map<std::string, std::shared_ptr<RouteFilterConfig>> per_filter;  // by HTTP filter name
};

struct VirtualHostEntry {
  VirtualHostSpec spec;
  std::vector<RouteEntry> routes;
  std::map<std::string, std::shared_ptr<RouteFilterConfig>> per_filter;
};

// An HTTP connection manager: filter chain, route table and its stats. Streams hold a reference,
// so a replaced chain lives until its last stream ends, and is destroyed on that stream's worker.
class HttpChain {
 public:
  static std::shared_ptr<HttpChain> create(const ListenerSpec& listener, const std::map<std::string, Cluster*>& clusters,
                                           std::string* error);
  const HttpConnectionManagerSpec& spec() const { return spec_; }
  const std::vector<std::shared_ptr<FilterConfig>>& filters() const { return filters_; }
  // Worker thread. Finds the route for the request, like Envoy's route table.
  const RouteEntry* route(const HeaderMap& request_headers, const VirtualHostEntry** vhost_out) const;

  struct Stats {
    std::atomic<uint64_t>* rq_total;
    std::atomic<uint64_t>* rq_xx[6];
    std::atomic<int64_t>* rq_active;
    std::atomic<uint64_t>* cx_total;
    std::atomic<int64_t>* cx_active;
    std::atomic<uint64_t>* rq_too_large;
    std::atomic<uint64_t>* flow_control_paused_reading;
    std::atomic<uint64_t>* flow_control_resumed_reading;
    std::atomic<uint64_t>* filter_init_failed;
  } hcm_stats{};

 private:
  HttpConnectionManagerSpec spec_;
  std::vector<std::shared_ptr<FilterConfig>> filters_;
  std::vector<VirtualHostEntry> vhosts_;
};

class Worker;
struct ListenerEntry;

struct AcceptContext {
  Worker* worker;
  ListenerEntry* listener;
};

struct ListenerEntry {
  ListenerSpec spec;
  std::shared_ptr<HttpChain> chain;  // read by workers under chain_mutex
  std::mutex chain_mutex;
  uint16_t bound_port = 0;
  std::vector<int> fds;  // one SO_REUSEPORT socket per worker
  std::shared_ptr<HttpChain> currentChain() {
    std::lock_guard<std::mutex> lock(chain_mutex);
    return chain;
  }
};

class Worker {
 public:
  Worker(uint32_t index) : index_(index), dispatcher_(name_.c_str()) {}
  uint32_t index() const { return index_; }
  Dispatcher& dispatcher() { return dispatcher_; }

  // Worker thread: the filter slots alive on this worker, so callbacks can reject stale or
  // foreign filter pointers instead of touching freed memory.
  std::unordered_set<const FilterSlot*> live_slots;
  std::map<const Cluster*, std::unique_ptr<UpstreamPool>> pools;
  std::unordered_set<ServerConnection*> connections;
  std::vector<evconnlistener*> listeners;
  std::vector<std::unique_ptr<AcceptContext>> accept_contexts;
  std::atomic<int64_t> active_streams{0};
  bool shutting_down = false;  // worker thread: no new keep-alive reuse

  UpstreamPool& pool(const Cluster* cluster);

 private:
  uint32_t index_;
  std::string name_ = "worker";
  Dispatcher dispatcher_;
};

// The worker running on this thread, or null (main thread, module threads).
extern thread_local Worker* tls_worker;

class Server {
 public:
  static Server& instance();

  uint32_t concurrency = 1;
  Dispatcher main_dispatcher{"main"};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<ListenerEntry>> listeners;
  std::map<std::string, Cluster*> clusters;
  std::vector<std::unique_ptr<Cluster>> cluster_storage;
  std::atomic<bool> draining{false};
  pthread_t main_thread{};
  bool validation_mode = false;

  bool isMainThread() const { return pthread_equal(pthread_self(), main_thread); }
};

}  // namespace devhost
