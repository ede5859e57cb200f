// The Envoy side of the dynamic-module ABI: every envoy_dynamic_module_callback_* the dev host
// implements. Each entry is noexcept and validates its handle, so a module that calls from the
// wrong thread or after destroy is reported (devhost.abi_violation stats) instead of touching
// freed memory as it would in Envoy.
#include <pthread.h>

#include <cinttypes>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "envoy_version.h"
#include "log.h"
#include "nodevoy_envoy_abi.h"
#include "server.h"
#include "stats.h"
#include "stream.h"

namespace devhost {

namespace {

// Which worker owns each live filter pointer; read only to explain a violation.
std::mutex g_slot_owner_mutex;
std::unordered_map<const FilterSlot*, uint32_t> g_slot_owner;

void violation(const char* callback, const std::string& what) {
  stats().counter("devhost.abi_violation").fetch_add(1);
  stats().counter(std::string("devhost.abi_violation.") + callback).fetch_add(1);
  DH_LOG(DynamicModules, Error, "ABI violation in %s: %s", callback, what.c_str());
}

// Worker thread, inside a hook. Returns the slot, or null (and reports) when fe is not a live filter
// of the calling worker. `null_checked`: a callback Envoy <= v1.39 guards against its own destroyed
// filter (continue_*), which is then a silent no-op rather than a violation.
FilterSlot* liveSlot(void* fe, const char* callback, bool null_checked = false) {
  auto* slot = static_cast<FilterSlot*>(fe);
  Worker* worker = tls_worker;
  if (worker != nullptr && worker->live_slots.count(slot) > 0) {
    if (slot->destroyed_before_stream && null_checked) return nullptr;
    if (slot->destroyed_before_stream) {
      violation(callback,
                "called after on_http_filter_destroy: Envoy <= v1.39 destroys the filter as soon as the stream ends "
                "(inside the call that ended it) and its callbacks are gone");
      return nullptr;
    }
    if (tls_hook_depth == 0) violation(callback, "called outside of any event hook");
    return slot;
  }
  std::string why;
  {
    std::lock_guard<std::mutex> lock(g_slot_owner_mutex);
    auto it = g_slot_owner.find(slot);
    if (it == g_slot_owner.end()) {
      why = "the filter pointer is not live (called after on_http_filter_destroy, or never valid)";
    } else if (worker == nullptr) {
      why = "called from a thread that is not an Envoy worker (the filter lives on worker " +
            std::to_string(it->second) + "); only scheduler_commit may be called from other threads";
    } else {
      why = "called on worker " + std::to_string(worker->index()) + " but the filter lives on worker " +
            std::to_string(it->second);
    }
  }
  violation(callback, why);
  return nullptr;
}

FilterConfig* configFromEnvoyPtr(void* ce) { return static_cast<FilterConfig*>(ce); }

std::string_view view(nv_module_buffer b) { return b.ptr ? std::string_view(b.ptr, b.length) : std::string_view(); }

nv_envoy_buffer envoyBuffer(const std::string& s) { return nv_envoy_buffer{s.data(), s.size()}; }

std::vector<std::pair<std::string, std::string>> moduleHeaders(const nv_module_header* headers, size_t n) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    out.emplace_back(HeaderMap::lower(std::string_view(headers[i].key_ptr, headers[i].key_length)),
                     std::string(headers[i].value_ptr ? headers[i].value_ptr : "", headers[i].value_length));
  }
  return out;
}

std::unique_ptr<HeaderMap> moduleHeaderMap(HeaderMap::Kind kind, const nv_module_header* headers, size_t n) {
  auto map = std::make_unique<HeaderMap>(kind);
  for (const auto& [key, value] : moduleHeaders(headers, n)) map->add(key, value);
  return map;
}

}  // namespace

void registerSlot(Worker& worker, const FilterSlot* slot) {
  worker.live_slots.insert(slot);
  std::lock_guard<std::mutex> lock(g_slot_owner_mutex);
  g_slot_owner[slot] = worker.index();
}

void unregisterSlot(Worker& worker, const FilterSlot* slot) {
  worker.live_slots.erase(slot);
  std::lock_guard<std::mutex> lock(g_slot_owner_mutex);
  g_slot_owner.erase(slot);
}

namespace {

// ---- Metrics helpers (shared by the per-stream and config-level entry points) -----------------

nv_metrics_result defineMetric(nv_config_envoy_ptr ce, ModuleMetric::Kind kind, nv_module_buffer name,
                               nv_module_buffer* label_names, size_t n, size_t* id_out) {
  FilterConfig* config = configFromEnvoyPtr(ce);
  if (!config->defining()) return NV_METRICS_FROZEN;
  auto metric = std::make_unique<ModuleMetric>();
  metric->kind = kind;
  metric->name.assign(view(name));
  for (size_t i = 0; i < n; i++) metric->label_names.emplace_back(view(label_names[i]));
  std::string stat = config->metricStatName(*metric, {});
  if (n == 0) {
    if (kind == ModuleMetric::Kind::Counter) metric->counter = &stats().counter(stat);
    if (kind == ModuleMetric::Kind::Gauge) metric->gauge = &stats().gauge(stat);
    if (kind == ModuleMetric::Kind::Histogram) metric->histogram = &stats().histogram(stat);
  }
  auto& list = config->metrics(kind, n > 0);
  list.push_back(std::move(metric));
  *id_out = list.size();  // 1-based, like Envoy
  return NV_METRICS_SUCCESS;
}

enum class MetricOp { Add, Subtract, Set, Record };

nv_metrics_result updateMetric(FilterConfig* config, ModuleMetric::Kind kind, size_t id, nv_module_buffer* label_values,
                               size_t n, uint64_t value, MetricOp op) {
  auto& list = config->metrics(kind, n > 0);
  if (id == 0 || id > list.size()) return NV_METRICS_NOT_FOUND;
  ModuleMetric& metric = *list[id - 1];
  if (n != metric.label_names.size()) return NV_METRICS_INVALID_LABELS;
  std::atomic<uint64_t>* counter = metric.counter;
  std::atomic<int64_t>* gauge = metric.gauge;
  Histogram* histogram = metric.histogram;
  if (n > 0) {
    std::vector<std::string> values;
    for (size_t i = 0; i < n; i++) values.emplace_back(view(label_values[i]));
    std::string stat = config->metricStatName(metric, values);
    std::vector<std::pair<std::string, std::string>> tags;
    for (size_t i = 0; i < n; i++) tags.emplace_back(metric.label_names[i], values[i]);
    stats().tag(stat, config->metricStatName(metric, {}), tags);  // for /stats/prometheus
    if (kind == ModuleMetric::Kind::Counter) counter = &stats().counter(stat);
    if (kind == ModuleMetric::Kind::Gauge) gauge = &stats().gauge(stat);
    if (kind == ModuleMetric::Kind::Histogram) histogram = &stats().histogram(stat);
  }
  switch (op) {
    case MetricOp::Add:
      if (counter) counter->fetch_add(value, std::memory_order_relaxed);
      if (gauge) gauge->fetch_add(static_cast<int64_t>(value), std::memory_order_relaxed);
      break;
    case MetricOp::Subtract:
      if (gauge) gauge->fetch_sub(static_cast<int64_t>(value), std::memory_order_relaxed);
      break;
    case MetricOp::Set:
      if (gauge) gauge->store(static_cast<int64_t>(value), std::memory_order_relaxed);
      break;
    case MetricOp::Record:
      if (histogram) histogram->record(value);
      break;
  }
  return NV_METRICS_SUCCESS;
}

template <class T>
bool metadataValue(FilterSlot* slot, nv_metadata_source source, nv_module_buffer ns, nv_module_buffer key,
                   const T** out, const char* type_name) {
  const MetadataMap* map = nullptr;
  if (source == NV_METADATA_DYNAMIC) {
    map = &slot->stream->dynamic_metadata;
  } else if (source == NV_METADATA_ROUTE) {
    const RouteEntry* route = slot->stream->route();
    if (route == nullptr) return false;
    map = &route->metadata;
  } else {
    return false;  // cluster and host metadata are not modelled by the dev host
  }
  auto ns_it = map->find(std::string(view(ns)));
  if (ns_it == map->end()) return false;
  auto key_it = ns_it->second.find(std::string(view(key)));
  if (key_it == ns_it->second.end()) return false;
  const T* value = std::get_if<T>(&key_it->second);
  if (value == nullptr) {
    DH_LOG(DynamicModules, Error, "key %s is not a %s", key_it->first.c_str(), type_name);
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

}  // namespace devhost

using namespace devhost;

#define NV_EXPORT extern "C" __attribute__((visibility("default")))

// ---- Headers and trailers (worker thread, inside a hook) -----------------------------------------

NV_EXPORT bool envoy_dynamic_module_callback_http_get_header(nv_filter_envoy_ptr fe, nv_header_type type,
                                                             nv_module_buffer key, nv_envoy_buffer* result,
                                                             size_t index, size_t* optional_size) noexcept {
  *result = nv_envoy_buffer{nullptr, 0};
  if (optional_size) *optional_size = 0;
  FilterSlot* slot = liveSlot(fe, "http_get_header");
  if (!slot) return false;
  HeaderMap* map = slot->stream->headers(type);
  if (!map) return false;
  std::string_view k = view(key);
  if (optional_size) *optional_size = map->count(k);
  const std::string* value = map->get(k, index);
  if (!value) return false;
  *result = envoyBuffer(*value);
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_header_values(nv_filter_envoy_ptr fe, nv_header_type type,
                                                                    nv_module_buffer key,
                                                                    nv_envoy_buffer* results) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_header_values");
  if (!slot) return false;
  HeaderMap* map = slot->stream->headers(type);
  if (!map) return false;
  std::string_view k = view(key);
  size_t i = 0;
  for (const std::string* value = map->get(k, 0); value != nullptr; value = map->get(k, ++i)) {
    results[i] = envoyBuffer(*value);
  }
  return true;  // as Envoy: the map exists, whether or not the key has values
}

NV_EXPORT size_t envoy_dynamic_module_callback_http_get_headers_size(nv_filter_envoy_ptr fe,
                                                                     nv_header_type type) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_headers_size");
  if (!slot) return 0;
  HeaderMap* map = slot->stream->headers(type);
  return map ? map->size() : 0;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_headers(nv_filter_envoy_ptr fe, nv_header_type type,
                                                              nv_envoy_header* result_headers) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_headers");
  if (!slot) return false;
  HeaderMap* map = slot->stream->headers(type);
  if (!map) return false;
  size_t i = 0;
  for (const auto& e : map->entries()) {
    result_headers[i++] = nv_envoy_header{e.key.data(), e.key.size(), e.value.data(), e.value.size()};
  }
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_set_header(nv_filter_envoy_ptr fe, nv_header_type type,
                                                             nv_module_buffer key, nv_module_buffer value) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_set_header");
  if (!slot) return false;
  HeaderMap* map = slot->stream->headers(type);
  if (!map) return false;  // Envoy does not check the key: an empty one is stored as given
  if (value.ptr == nullptr || value.length == 0) {
    map->remove(view(key));  // a NULL (or empty) value removes the header
  } else {
    map->set(view(key), view(value));
  }
  if (type == NV_HEADER_RESPONSE && HeaderMap::lower(view(key)) == ":status") {
    slot->stream->response_code = static_cast<uint32_t>(atoi(std::string(view(value)).c_str()));
  }
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_add_header(nv_filter_envoy_ptr fe, nv_header_type type,
                                                             nv_module_buffer key, nv_module_buffer value) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_add_header");
  if (!slot) return false;
  HeaderMap* map = slot->stream->headers(type);
  if (!map || value.ptr == nullptr || value.length == 0) return false;  // an empty key is stored as given
  map->add(view(key), view(value));
  return true;
}

// ---- Body -------------------------------------------------------------------------------------

NV_EXPORT size_t envoy_dynamic_module_callback_http_get_body_size(nv_filter_envoy_ptr fe, nv_body_type type) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_body_size");
  if (!slot) return 0;
  Buffer* body = slot->stream->body(type);
  return body ? body->length() : 0;
}

NV_EXPORT size_t envoy_dynamic_module_callback_http_get_body_chunks_size(nv_filter_envoy_ptr fe,
                                                                         nv_body_type type) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_body_chunks_size");
  if (!slot) return 0;
  Buffer* body = slot->stream->body(type);
  return body ? body->slices().size() : 0;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_body_chunks(nv_filter_envoy_ptr fe, nv_body_type type,
                                                                  nv_envoy_buffer* result_chunks) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_body_chunks");
  if (!slot) return false;
  Buffer* body = slot->stream->body(type);
  if (!body) return false;
  size_t i = 0;
  for (const auto& s : body->slices()) result_chunks[i++] = envoyBuffer(s);
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_append_body(nv_filter_envoy_ptr fe, nv_body_type type,
                                                              nv_module_buffer data) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_append_body");
  if (!slot) return false;
  Buffer* body = slot->stream->body(type);
  if (!body && (type == NV_BODY_BUFFERED_REQUEST || type == NV_BODY_BUFFERED_RESPONSE)) {
    body = slot->stream->createBufferedBody(type);  // Envoy creates an absent buffered body on append
  }
  if (!body) return false;
  body->append(view(data));
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_drain_body(nv_filter_envoy_ptr fe, nv_body_type type,
                                                             size_t number_of_bytes) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_drain_body");
  if (!slot) return false;
  Buffer* body = slot->stream->body(type);
  if (!body) return false;
  body->drain(number_of_bytes);
  if (type == NV_BODY_BUFFERED_REQUEST || type == NV_BODY_BUFFERED_RESPONSE) slot->stream->onBufferedBodyDrained(type);
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_received_buffered_request_body(nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_received_buffered_request_body");
  return slot && slot->stream->receivedIsBuffered(Direction::Decode);
}

NV_EXPORT bool envoy_dynamic_module_callback_http_received_buffered_response_body(nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_received_buffered_response_body");
  return slot && slot->stream->receivedIsBuffered(Direction::Encode);
}

NV_EXPORT uint64_t envoy_dynamic_module_callback_http_get_buffer_limit(nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_buffer_limit");
  return slot ? slot->stream->bufferLimit() : 0;
}

NV_EXPORT void envoy_dynamic_module_callback_http_set_buffer_limit(nv_filter_envoy_ptr fe, uint64_t limit) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_set_buffer_limit");
  if (slot) slot->stream->setBufferLimit(static_cast<uint32_t>(std::min<uint64_t>(limit, UINT32_MAX)));
}

// ---- Responses -----------------------------------------------------------------------------------

NV_EXPORT void envoy_dynamic_module_callback_http_send_response(nv_filter_envoy_ptr fe, uint32_t status_code,
                                                                nv_module_header* headers, size_t headers_size,
                                                                nv_module_buffer body,
                                                                nv_module_buffer details) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_send_response");
  if (!slot || slot->stream->ended()) return;
  try {
    std::string_view d = view(details);
    slot->stream->sendLocalReply(status_code, view(body), moduleHeaders(headers, headers_size),
                                 d.empty() ? std::string_view("dynamic_module") : d, slot);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "send_response failed: %s", e.what());
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_send_response_headers(nv_filter_envoy_ptr fe,
                                                                        nv_module_header* headers,
                                                                        size_t headers_size,
                                                                        bool end_stream) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_send_response_headers");
  if (!slot || slot->stream->ended()) return;
  try {
    auto map = moduleHeaderMap(HeaderMap::Kind::ResponseHeaders, headers, headers_size);
    if (!map->get(":status")) {
      DH_LOG(DynamicModules, Error, "send_response_headers without :status; answering 502");
      slot->stream->sendLocalReply(502, "", {}, "filter_removed_required_response_headers{missing_required_header:_:status}",
                                   slot);
      return;
    }
    slot->stream->sendResponseHeaders(std::move(map), end_stream, slot);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "send_response_headers failed: %s", e.what());
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_send_response_data(nv_filter_envoy_ptr fe, nv_module_buffer data,
                                                                     bool end_stream) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_send_response_data");
  if (!slot || slot->stream->ended()) return;
  try {
    slot->stream->sendResponseData(view(data), end_stream, slot);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "send_response_data failed: %s", e.what());
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_send_response_trailers(nv_filter_envoy_ptr fe,
                                                                         nv_module_header* trailers,
                                                                         size_t trailers_size) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_send_response_trailers");
  if (!slot || slot->stream->ended()) return;
  try {
    slot->stream->sendResponseTrailers(moduleHeaderMap(HeaderMap::Kind::ResponseTrailers, trailers, trailers_size), slot);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "send_response_trailers failed: %s", e.what());
  }
}

// ---- Continue ----------------------------------------------------------------------------------

static void continueDirection(nv_filter_envoy_ptr fe, Direction dir, const char* callback) {
  FilterSlot* slot = liveSlot(fe, callback, /*null_checked=*/true);
  if (!slot || slot->stream->ended()) return;
  if (envoyVersion() == EnvoyVersion::V1_38) {
    // One in_continue_ flag for both directions: the last hook of either direction that returned
    // Continue (or an earlier continue) makes this call a no-op, even if this direction is stopped.
    if (slot->shared_in_continue) {
      DH_LOG(DynamicModules, Debug, "%s ignored: filter %s's shared continue flag is set (Envoy v1.38)", callback,
             slot->config->spec().instance_name.c_str());
      return;
    }
    slot->shared_in_continue = true;
  }
  if (slot->dir[int(dir)].iteration == Iteration::Continue) {
    // Not stopped in this direction (or already continued): Envoy ignores the call.
    DH_LOG(DynamicModules, Debug, "%s ignored: filter %s is not stopped", callback,
           slot->config->spec().instance_name.c_str());
    return;
  }
  try {
    slot->stream->continueIteration(dir, *slot);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "%s failed: %s", callback, e.what());
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_filter_continue_decoding(nv_filter_envoy_ptr fe) noexcept {
  continueDirection(fe, Direction::Decode, "http_filter_continue_decoding");
}

NV_EXPORT void envoy_dynamic_module_callback_http_filter_continue_encoding(nv_filter_envoy_ptr fe) noexcept {
  continueDirection(fe, Direction::Encode, "http_filter_continue_encoding");
}

// ---- Schedulers --------------------------------------------------------------------------------

NV_EXPORT nv_scheduler_ptr envoy_dynamic_module_callback_http_filter_scheduler_new(nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_filter_scheduler_new");
  if (!slot) return nullptr;
  return new (std::nothrow) FilterScheduler{slot->weak_from_this(), &slot->stream->worker().dispatcher()};
}

// Any thread.
NV_EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_commit(nv_scheduler_ptr scheduler,
                                                                          uint64_t event_id) noexcept {
  auto* s = static_cast<FilterScheduler*>(scheduler);
  if (s == nullptr) return;
  try {
    std::weak_ptr<FilterSlot> weak = s->slot;
    if (weak.expired()) {
      stats().counter("devhost.scheduler.dropped_events").fetch_add(1);
      return;  // a no-op once the filter is destroyed
    }
    s->dispatcher->post([weak, event_id] {
      std::shared_ptr<FilterSlot> slot = weak.lock();
      if (!slot || slot->destroyed || !slot->created || slot->stream == nullptr) {
        stats().counter("devhost.scheduler.dropped_events").fetch_add(1);
        return;
      }
      HookScope scope(*slot->stream);
      slot->config->hooks().scheduled(slot.get(), slot->module_filter, event_id);
    });
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "scheduler_commit failed: %s", e.what());
  }
}

// Any thread.
NV_EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_delete(nv_scheduler_ptr scheduler) noexcept {
  delete static_cast<FilterScheduler*>(scheduler);
}

namespace devhost {
struct ConfigScheduler {
  std::weak_ptr<FilterConfig> config;
};
}  // namespace devhost

NV_EXPORT nv_scheduler_ptr envoy_dynamic_module_callback_http_filter_config_scheduler_new(
    nv_config_envoy_ptr ce) noexcept {
  FilterConfig* config = configFromEnvoyPtr(ce);
  return new (std::nothrow) ConfigScheduler{config->weak_from_this()};
}

// Any thread. on_http_filter_config_scheduled runs on the main thread.
NV_EXPORT void envoy_dynamic_module_callback_http_filter_config_scheduler_commit(nv_scheduler_ptr scheduler,
                                                                                 uint64_t event_id) noexcept {
  auto* s = static_cast<ConfigScheduler*>(scheduler);
  if (s == nullptr) return;
  try {
    std::weak_ptr<FilterConfig> weak = s->config;
    Server::instance().main_dispatcher.post([weak, event_id] {
      std::shared_ptr<FilterConfig> config = weak.lock();
      if (!config || !config->alive || config->hooks().config_scheduled == nullptr) return;
      config->hooks().config_scheduled(config.get(), config->moduleConfig(), event_id);
    });
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "config_scheduler_commit failed: %s", e.what());
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_filter_config_scheduler_delete(nv_scheduler_ptr scheduler) noexcept {
  delete static_cast<ConfigScheduler*>(scheduler);
}

// ---- Logging (any thread) --------------------------------------------------------------------------

static bool validLevel(nv_log_level level) { return level >= NV_LOG_TRACE && level <= NV_LOG_CRITICAL; }

NV_EXPORT void envoy_dynamic_module_callback_log(nv_log_level level, nv_module_buffer message) noexcept {
  if (!validLevel(level) || !Logger::enabled(Component::DynamicModules, static_cast<LogLevel>(level))) return;
  Logger::write(Component::DynamicModules, static_cast<LogLevel>(level), "", 0, view(message));
}

NV_EXPORT void envoy_dynamic_module_callback_log_v2(nv_log_level level, nv_module_buffer message,
                                                    nv_module_buffer source_file, uint32_t line) noexcept {
  if (!validLevel(level) || !Logger::enabled(Component::DynamicModules, static_cast<LogLevel>(level))) return;
  Logger::write(Component::DynamicModules, static_cast<LogLevel>(level), view(source_file), line, view(message));
}

NV_EXPORT bool envoy_dynamic_module_callback_log_enabled(nv_log_level level) noexcept {
  // Envoy compares with the logger's level; Off (6) therefore reads as enabled, as in Envoy.
  return static_cast<int>(Logger::level(Component::DynamicModules)) <= static_cast<int>(level);
}

NV_EXPORT nv_log_level envoy_dynamic_module_callback_get_log_level() noexcept {
  return static_cast<nv_log_level>(Logger::level(Component::DynamicModules));
}

// ---- Metrics -----------------------------------------------------------------------------------------

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_counter(
    nv_config_envoy_ptr ce, nv_module_buffer name, nv_module_buffer* label_names, size_t n, size_t* id_out) noexcept {
  try {
    return defineMetric(ce, ModuleMetric::Kind::Counter, name, label_names, n, id_out);
  } catch (...) {
    return NV_METRICS_FROZEN;
  }
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_gauge(
    nv_config_envoy_ptr ce, nv_module_buffer name, nv_module_buffer* label_names, size_t n, size_t* id_out) noexcept {
  try {
    return defineMetric(ce, ModuleMetric::Kind::Gauge, name, label_names, n, id_out);
  } catch (...) {
    return NV_METRICS_FROZEN;
  }
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_histogram(
    nv_config_envoy_ptr ce, nv_module_buffer name, nv_module_buffer* label_names, size_t n, size_t* id_out) noexcept {
  try {
    return defineMetric(ce, ModuleMetric::Kind::Histogram, name, label_names, n, id_out);
  } catch (...) {
    return NV_METRICS_FROZEN;
  }
}

static nv_metrics_result streamMetric(nv_filter_envoy_ptr fe, const char* callback, ModuleMetric::Kind kind, size_t id,
                                      nv_module_buffer* labels, size_t n, uint64_t value, MetricOp op) {
  FilterSlot* slot = liveSlot(fe, callback);
  if (!slot) return NV_METRICS_NOT_FOUND;
  try {
    return updateMetric(slot->config.get(), kind, id, labels, n, value, op);
  } catch (...) {
    return NV_METRICS_NOT_FOUND;
  }
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_increment_counter(
    nv_filter_envoy_ptr fe, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return streamMetric(fe, "http_filter_increment_counter", ModuleMetric::Kind::Counter, id, labels, n, value,
                      MetricOp::Add);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_increment_gauge(
    nv_filter_envoy_ptr fe, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return streamMetric(fe, "http_filter_increment_gauge", ModuleMetric::Kind::Gauge, id, labels, n, value, MetricOp::Add);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_decrement_gauge(
    nv_filter_envoy_ptr fe, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return streamMetric(fe, "http_filter_decrement_gauge", ModuleMetric::Kind::Gauge, id, labels, n, value,
                      MetricOp::Subtract);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_set_gauge(nv_filter_envoy_ptr fe, size_t id,
                                                                                nv_module_buffer* labels, size_t n,
                                                                                uint64_t value) noexcept {
  return streamMetric(fe, "http_filter_set_gauge", ModuleMetric::Kind::Gauge, id, labels, n, value, MetricOp::Set);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_record_histogram_value(
    nv_filter_envoy_ptr fe, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return streamMetric(fe, "http_filter_record_histogram_value", ModuleMetric::Kind::Histogram, id, labels, n, value,
                      MetricOp::Record);
}

// Any thread.
NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_increment_counter(
    nv_config_envoy_ptr ce, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  try {
    return updateMetric(configFromEnvoyPtr(ce), ModuleMetric::Kind::Counter, id, labels, n, value, MetricOp::Add);
  } catch (...) {
    return NV_METRICS_NOT_FOUND;
  }
}

// Any thread. Config-level gauge and histogram updates (issue 10: background work).
static nv_metrics_result configMetric(nv_config_envoy_ptr ce, ModuleMetric::Kind kind, size_t id,
                                      nv_module_buffer* labels, size_t n, uint64_t value, MetricOp op) noexcept {
  try {
    return updateMetric(configFromEnvoyPtr(ce), kind, id, labels, n, value, op);
  } catch (...) {
    return NV_METRICS_NOT_FOUND;
  }
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_increment_gauge(
    nv_config_envoy_ptr ce, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return configMetric(ce, ModuleMetric::Kind::Gauge, id, labels, n, value, MetricOp::Add);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_decrement_gauge(
    nv_config_envoy_ptr ce, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return configMetric(ce, ModuleMetric::Kind::Gauge, id, labels, n, value, MetricOp::Subtract);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_set_gauge(
    nv_config_envoy_ptr ce, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return configMetric(ce, ModuleMetric::Kind::Gauge, id, labels, n, value, MetricOp::Set);
}

NV_EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_record_histogram_value(
    nv_config_envoy_ptr ce, size_t id, nv_module_buffer* labels, size_t n, uint64_t value) noexcept {
  return configMetric(ce, ModuleMetric::Kind::Histogram, id, labels, n, value, MetricOp::Record);
}

// ---- Dynamic metadata --------------------------------------------------------------------------------

static void setMetadata(nv_filter_envoy_ptr fe, const char* callback, nv_module_buffer ns, nv_module_buffer key,
                        MetadataValue value) {
  FilterSlot* slot = liveSlot(fe, callback);
  if (!slot) return;
  try {
    slot->stream->dynamic_metadata[std::string(view(ns))][std::string(view(key))] = std::move(value);
  } catch (...) {
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_set_dynamic_metadata_number(nv_filter_envoy_ptr fe,
                                                                              nv_module_buffer ns,
                                                                              nv_module_buffer key,
                                                                              double value) noexcept {
  setMetadata(fe, "http_set_dynamic_metadata_number", ns, key, value);
}

NV_EXPORT void envoy_dynamic_module_callback_http_set_dynamic_metadata_string(nv_filter_envoy_ptr fe,
                                                                              nv_module_buffer ns,
                                                                              nv_module_buffer key,
                                                                              nv_module_buffer value) noexcept {
  setMetadata(fe, "http_set_dynamic_metadata_string", ns, key, std::string(view(value)));
}

NV_EXPORT void envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(nv_filter_envoy_ptr fe,
                                                                            nv_module_buffer ns, nv_module_buffer key,
                                                                            bool value) noexcept {
  setMetadata(fe, "http_set_dynamic_metadata_bool", ns, key, value);
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_metadata_number(nv_filter_envoy_ptr fe,
                                                                      nv_metadata_source source, nv_module_buffer ns,
                                                                      nv_module_buffer key, double* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_metadata_number");
  const double* value = nullptr;
  if (!slot || !metadataValue(slot, source, ns, key, &value, "number")) return false;
  *result = *value;
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_metadata_string(nv_filter_envoy_ptr fe,
                                                                      nv_metadata_source source, nv_module_buffer ns,
                                                                      nv_module_buffer key,
                                                                      nv_envoy_buffer* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_metadata_string");
  const std::string* value = nullptr;
  if (!slot || !metadataValue(slot, source, ns, key, &value, "string")) return false;
  *result = envoyBuffer(*value);
  return true;
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_metadata_bool(nv_filter_envoy_ptr fe, nv_metadata_source source,
                                                                    nv_module_buffer ns, nv_module_buffer key,
                                                                    bool* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_metadata_bool");
  const bool* value = nullptr;
  if (!slot || !metadataValue(slot, source, ns, key, &value, "bool")) return false;
  *result = *value;
  return true;
}

// ---- Filter state ------------------------------------------------------------------------------------

NV_EXPORT bool envoy_dynamic_module_callback_http_set_filter_state_bytes(nv_filter_envoy_ptr fe, nv_module_buffer key,
                                                                         nv_module_buffer value) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_set_filter_state_bytes");
  if (!slot) return false;
  try {
    auto [it, inserted] = slot->stream->filter_state.emplace(std::string(view(key)), std::string(view(value)));
    if (!inserted) {
      // Envoy stores it read-only: a second set on the key is refused and the old value kept.
      DH_LOG(DynamicModules, Error, "FilterStateAccessViolation: filter state '%s' is read-only and already set",
             it->first.c_str());
      return false;
    }
    return true;
  } catch (...) {
    return false;
  }
}

NV_EXPORT bool envoy_dynamic_module_callback_http_get_filter_state_bytes(nv_filter_envoy_ptr fe, nv_module_buffer key,
                                                                         nv_envoy_buffer* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_get_filter_state_bytes");
  if (!slot) return false;
  auto it = slot->stream->filter_state.find(std::string(view(key)));
  if (it == slot->stream->filter_state.end()) return false;
  *result = envoyBuffer(it->second);
  return true;
}

// ---- Attributes --------------------------------------------------------------------------------------

NV_EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_string(nv_filter_envoy_ptr fe,
                                                                              nv_attribute_id id,
                                                                              nv_envoy_buffer* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_filter_get_attribute_string");
  if (!slot) return false;
  ActiveStream& stream = *slot->stream;
  HeaderMap* request = stream.headers(NV_HEADER_REQUEST);
  auto header = [&](const char* name) -> bool {
    const std::string* value = request ? request->get(name) : nullptr;
    if (!value) return false;
    *result = envoyBuffer(*value);
    return true;
  };
  // Values computed here stay valid until the running hook returns, however many are asked for.
  auto computed = [&](std::string value) -> bool {
    std::string_view kept = stream.keepForHook(std::move(value));
    *result = nv_envoy_buffer{kept.data(), kept.size()};
    return true;
  };
  const ConnectionInfo& c = stream.connection();
  switch (id) {
    case NV_ATTR_REQUEST_PATH: return header(":path");
    case NV_ATTR_REQUEST_URL_PATH: {
      if (!request) return false;
      const std::string* path = request->get(":path");
      if (!path) return computed("");
      return computed(path->substr(0, path->find('?')));
    }
    case NV_ATTR_REQUEST_HOST: return header(":authority");
    case NV_ATTR_REQUEST_SCHEME: return header(":scheme");
    case NV_ATTR_REQUEST_METHOD: return header(":method");
    case NV_ATTR_REQUEST_REFERER: return header("referer");
    case NV_ATTR_REQUEST_USER_AGENT: return header("user-agent");
    case NV_ATTR_REQUEST_ID: return header("x-request-id");
    case NV_ATTR_REQUEST_PROTOCOL: return computed(stream.protocol());
    case NV_ATTR_REQUEST_QUERY: {
      const std::string* path = request ? request->get(":path") : nullptr;
      if (!path || path->find('?') == std::string::npos) return false;
      std::string query = path->substr(path->find('?') + 1);
      return computed(query.substr(0, query.find('#')));
    }
    case NV_ATTR_RESPONSE_CODE_DETAILS:
      if (stream.response_code_details.empty()) return false;
      return computed(stream.response_code_details);
    case NV_ATTR_SOURCE_ADDRESS: return computed(c.remote_ip + ":" + std::to_string(c.remote_port));
    case NV_ATTR_DESTINATION_ADDRESS: return computed(c.local_ip + ":" + std::to_string(c.local_port));
    case NV_ATTR_XDS_ROUTE_NAME: {
      // The stream's route name, available (possibly empty) even when no route matched.
      const RouteEntry* route = stream.route();
      return computed(route ? route->spec.name : "");
    }
    case NV_ATTR_XDS_VIRTUAL_HOST_NAME: {
      // Envoy <= v1.39 answered with the virtual cluster name (none here); v1.40 the virtual host's.
      if (!envoyAtLeast(EnvoyVersion::V1_40)) return false;
      const VirtualHostEntry* vhost = stream.virtualHost();
      if (!vhost) return false;
      return computed(vhost->spec.name);
    }
    case NV_ATTR_XDS_CLUSTER_NAME: {
      if (!envoyAtLeast(EnvoyVersion::V1_40)) {  // no accessor before v1.40
        DH_LOG(DynamicModules, Error, "Unsupported attribute ID %d as string", static_cast<int>(id));
        return false;
      }
      const RouteEntry* route = stream.route();
      if (!route || !route->cluster) return false;
      return computed(route->cluster->spec.name);
    }
    default:
      DH_LOG(DynamicModules, Error, "Unsupported attribute ID %d as string", static_cast<int>(id));
      return false;
  }
}

NV_EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_int(nv_filter_envoy_ptr fe, nv_attribute_id id,
                                                                           uint64_t* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_filter_get_attribute_int");
  if (!slot) return false;
  ActiveStream& stream = *slot->stream;
  const ConnectionInfo& c = stream.connection();
  switch (id) {
    case NV_ATTR_SOURCE_PORT: *result = c.remote_port; return true;
    case NV_ATTR_DESTINATION_PORT: *result = c.local_port; return true;
    case NV_ATTR_CONNECTION_ID: *result = c.connection_id; return true;
    case NV_ATTR_RESPONSE_CODE:
      if (stream.response_code == 0) return false;
      *result = stream.response_code;
      return true;
    case NV_ATTR_REQUEST_SIZE: *result = stream.request_body_bytes; return true;
    case NV_ATTR_RESPONSE_SIZE: *result = stream.response_body_bytes; return true;
    default:
      DH_LOG(DynamicModules, Error, "Unsupported attribute ID %d as int", static_cast<int>(id));
      return false;
  }
}

NV_EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_bool(nv_filter_envoy_ptr fe, nv_attribute_id id,
                                                                            bool* result) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_filter_get_attribute_bool");
  if (!slot) return false;
  switch (id) {
    case NV_ATTR_CONNECTION_MTLS: return false;  // no TLS on the connection: unavailable, as in Envoy
    default:
      DH_LOG(DynamicModules, Error, "Unsupported attribute ID %d as bool", static_cast<int>(id));
      return false;
  }
}

// ---- Stream control and miscellaneous ------------------------------------------------------------

NV_EXPORT void envoy_dynamic_module_callback_http_clear_route_cache(nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_clear_route_cache");
  if (slot) slot->stream->clearRouteCache();
}

NV_EXPORT void envoy_dynamic_module_callback_http_filter_reset_stream(nv_filter_envoy_ptr fe,
                                                                      nv_http_filter_stream_reset_reason reason,
                                                                      nv_module_buffer details) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_filter_reset_stream");
  if (!slot || slot->stream->ended()) return;
  (void)reason;
  try {
    slot->stream->resetStream(view(details));
  } catch (...) {
  }
}

NV_EXPORT uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "http_filter_get_worker_index");
  return slot ? slot->stream->worker().index() : 0;
}

NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_callback_get_most_specific_route_config(
    nv_filter_envoy_ptr fe) noexcept {
  FilterSlot* slot = liveSlot(fe, "get_most_specific_route_config");
  if (!slot) return nullptr;
  const RouteFilterConfig* config = slot->stream->routeConfigFor(slot->config->spec().instance_name);
  return config ? config->moduleConfig() : nullptr;
}

// Main thread.
NV_EXPORT uint32_t envoy_dynamic_module_callback_get_concurrency() noexcept {
  if (!Server::instance().isMainThread()) violation("get_concurrency", "called off the main thread");
  return Server::instance().concurrency;
}

NV_EXPORT bool envoy_dynamic_module_callback_is_validation_mode() noexcept {
  return Server::instance().validation_mode;
}
