// The ABI's per-filter callout callbacks (callouts.h): envoy_dynamic_module_callback_http_filter_http_callout,
// _start_http_stream, _http_stream_send_data, _http_stream_send_trailers, _reset_http_stream.
#include "callouts.h"

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "log.h"
#include "nodevoy_envoy_abi.h"
#include "server.h"
#include "stats.h"
#include "stream.h"

namespace devhost {

namespace {

std::string_view view(nv_module_buffer b) { return b.ptr ? std::string_view(b.ptr, b.length) : std::string_view(); }

void violation(const char* callback, const std::string& what) {
  stats().counter("devhost.abi_violation").fetch_add(1);
  stats().counter(std::string("devhost.abi_violation.") + callback).fetch_add(1);
  DH_LOG(DynamicModules, Error, "ABI violation in %s: %s", callback, what.c_str());
}

// W: the filter behind fe when it is live on the calling worker and a hook runs; else reported.
FilterSlot* calloutSlot(void* fe, const char* callback) {
  auto* slot = static_cast<FilterSlot*>(fe);
  Worker* worker = tls_worker;
  if (worker == nullptr || worker->live_slots.count(slot) == 0) {
    violation(callback, "the filter pointer is not live on this thread (after on_http_filter_destroy, or off its worker)");
    return nullptr;
  }
  if (tls_hook_depth == 0) violation(callback, "called outside of any event hook");
  return slot;
}

class Callout;

// W: the callouts of each live filter on this worker.
struct SlotCallouts {
  uint64_t next_id = 1;
  std::map<uint64_t, Callout*> active;
};
thread_local std::unordered_map<const FilterSlot*, SlotCallouts> t_callouts;

std::vector<nv_envoy_header> envoyHeaders(const HeaderMap& map) {
  std::vector<nv_envoy_header> out;
  out.reserve(map.size());
  for (const auto& e : map.entries()) out.push_back({e.key.data(), e.key.size(), e.value.data(), e.value.size()});
  return out;
}

// One callout through the worker's pool of the cluster; deletes itself (deferred) when done.
class Callout : public UpstreamCallbacks, public DeferredDeletable {
 public:
  Callout(FilterSlot& slot, uint64_t id, bool streamed, const Cluster& cluster)
      : slot_(slot.weak_from_this()), id_(id), streamed_(streamed), cluster_(cluster) {}

  ~Callout() override { detach(); }

  void start(std::unique_ptr<HeaderMap> headers, std::string body, bool end_stream, uint64_t timeout_ms) {
    cluster_.upstream_rq_total->fetch_add(1, std::memory_order_relaxed);
    cluster_.upstream_rq_active->fetch_add(1, std::memory_order_relaxed);
    active_counted_ = true;
    pending_headers_ = std::move(headers);
    if (!body.empty()) pending_body_.append(body);
    request_end_ = end_stream;
    if (timeout_ms > 0) {
      timeout_ = std::make_unique<Timer>(worker().dispatcher(), [this] { onTimeout(); });
      timeout_->enable(timeout_ms);
    }
    connecting_ = true;
    UpstreamConnection* connection = worker().pool(&cluster_).newStream(*this);
    if (connecting_ && connection != nullptr) connection_ = connection;
  }

  // The module sends more of the request (streamed callouts).
  bool sendData(std::string_view data, bool end_stream) {
    if (done_ || request_end_) return false;
    request_end_ = end_stream;
    Buffer buffer;
    buffer.append(data);
    if (connection_ && !connecting_) {
      connection_->encodeData(buffer, end_stream);
    } else {
      pending_body_.move(buffer);
    }
    return true;
  }

  bool sendTrailers(std::unique_ptr<HeaderMap> trailers) {
    if (done_ || request_end_) return false;
    request_end_ = true;
    if (connection_ && !connecting_) {
      connection_->encodeTrailers(*trailers);
    } else {
      pending_trailers_ = std::move(trailers);
    }
    return true;
  }

  // The module reset it: Envoy's AsyncStream reset calls back at once, inside the call.
  void resetByModule() {
    if (done_) return;
    finish(false);
    if (streamed_) notifyReset();
  }

  // The filter is gone: cancelled without events.
  void cancel() {
    if (done_) return;
    finish(false);
  }

  // UpstreamCallbacks
  void onPoolReady(UpstreamConnection& connection) override {
    connecting_ = false;
    connection_ = &connection;
    const bool body_follows = !pending_body_.empty() || !request_end_ || pending_trailers_;
    connection.encodeHeaders(*pending_headers_, !body_follows && request_end_);
    pending_headers_.reset();
    if (!pending_body_.empty() || (request_end_ && body_follows && !pending_trailers_)) {
      connection.encodeData(pending_body_, request_end_ && !pending_trailers_);
    }
    if (pending_trailers_) connection.encodeTrailers(*pending_trailers_);
    pending_trailers_.reset();
  }

  void onPoolFailure(const std::string& reason, const std::string& transport_failure) override {
    connecting_ = false;
    connection_ = nullptr;
    if (reason == "no healthy upstream") {
      localReply(503, "no healthy upstream");
      return;
    }
    failBeforeResponse(reason, transport_failure);
  }

  void onResponseHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) override {
    if (done_) return;
    response_started_ = true;
    if (streamed_) {
      if (end_stream) finish(true);
      deliverHeaders(*headers, end_stream);
      if (end_stream) deliverComplete();
      return;
    }
    response_headers_ = std::move(headers);
    if (end_stream) completeOneShot();
  }

  void onResponseData(Buffer& data, bool end_stream) override {
    if (done_) return;
    if (streamed_) {
      if (end_stream) finish(true);
      deliverData(data, end_stream);
      if (end_stream) deliverComplete();
      return;
    }
    response_body_.move(data);
    if (end_stream) completeOneShot();
  }

  void onResponseTrailers(std::unique_ptr<HeaderMap> trailers) override {
    if (done_) return;
    if (streamed_) {
      finish(true);
      deliverTrailers(*trailers);
      deliverComplete();
      return;
    }
    completeOneShot();  // a one-shot callout's response message keeps no trailers here
  }

  void onUpstreamReset(const std::string& reason) override {
    if (done_) return;
    connection_ = nullptr;
    failBeforeResponse(reason, "");
  }

 private:
  Worker& worker() { return *tls_worker; }

  // The exchange is over: stop the timer, give the connection back (or close it), leave the table.
  void finish(bool clean) {
    if (done_) return;
    done_ = true;
    timeout_.reset();
    if (active_counted_) {
      cluster_.upstream_rq_active->fetch_sub(1, std::memory_order_relaxed);
      active_counted_ = false;
    }
    detach();
    (void)clean;
    auto slot = slot_.lock();
    auto it = t_callouts.find(slot.get());
    if (it != t_callouts.end()) it->second.active.erase(id_);
    worker().dispatcher().deferredDelete(std::unique_ptr<DeferredDeletable>(this));
  }

  void detach() {
    if (connection_ == nullptr) return;
    UpstreamConnection* connection = connection_;
    connection_ = nullptr;
    connection->release();  // reusable when the exchange finished cleanly, else closed
  }

  void onTimeout() {
    if (done_) return;
    cluster_.upstream_rq_timeout->fetch_add(1, std::memory_order_relaxed);
    if (response_started_) {
      finish(false);
      if (streamed_) {
        notifyReset();
      } else {
        notifyDone(NV_CALLOUT_RESET, nullptr);
      }
      return;
    }
    localReply(504, "upstream request timeout");
  }

  void failBeforeResponse(const std::string& reason, const std::string& transport_failure) {
    if (response_started_) {
      finish(false);
      if (streamed_) {
        notifyReset();
      } else {
        notifyDone(NV_CALLOUT_RESET, nullptr);
      }
      return;
    }
    std::string body = "upstream connect error or disconnect/reset before headers. reset reason: " + reason;
    if (!transport_failure.empty()) body += ", transport failure reason: " + transport_failure;
    localReply(503, body);
  }

  // The router's local reply, as the callout's response.
  void localReply(uint32_t status, const std::string& body) {
    HeaderMap headers(HeaderMap::Kind::ResponseHeaders);
    headers.add(":status", std::to_string(status));
    if (!body.empty()) {
      headers.add("content-length", std::to_string(body.size()));
      headers.add("content-type", "text/plain");
    }
    finish(false);
    if (streamed_) {
      deliverHeaders(headers, body.empty());
      if (!body.empty()) {
        Buffer data;
        data.append(body);
        deliverData(data, true);
      }
      deliverComplete();
      return;
    }
    response_headers_ = std::make_unique<HeaderMap>(headers);
    response_body_.clear();
    response_body_.append(body);
    notifyDone(NV_CALLOUT_SUCCESS, response_headers_.get());
  }

  void completeOneShot() {
    finish(true);
    notifyDone(NV_CALLOUT_SUCCESS, response_headers_.get());
  }

  // ---- Module hooks: each runs as an event hook of the filter's stream ----
  template <class Fn>
  void hook(Fn fn) {
    std::shared_ptr<FilterSlot> slot = slot_.lock();
    if (!slot || slot->destroyed || !slot->created || slot->stream == nullptr) return;
    ActiveStream& stream = *slot->stream;
    stream.hook_depth++;
    tls_hook_depth++;
    fn(*slot);
    tls_hook_depth--;
    stream.hook_depth--;
  }

  void notifyDone(nv_http_callout_result result, const HeaderMap* headers) {
    hook([&](FilterSlot& slot) {
      if (result != NV_CALLOUT_SUCCESS || headers == nullptr) {
        slot.config->hooks().http_callout_done(&slot, slot.module_filter, id_, result, nullptr, 0, nullptr, 0);
        return;
      }
      auto list = envoyHeaders(*headers);
      std::vector<nv_envoy_buffer> chunks;
      for (const auto& s : response_body_.slices()) chunks.push_back({s.data(), s.size()});
      slot.config->hooks().http_callout_done(&slot, slot.module_filter, id_, result, list.data(), list.size(),
                                            chunks.empty() ? nullptr : chunks.data(), chunks.size());
    });
  }

  void deliverHeaders(const HeaderMap& headers, bool end_stream) {
    hook([&](FilterSlot& slot) {
      auto list = envoyHeaders(headers);
      slot.config->hooks().http_stream_headers(&slot, slot.module_filter, id_, list.data(), list.size(), end_stream);
    });
  }

  void deliverData(Buffer& data, bool end_stream) {
    hook([&](FilterSlot& slot) {
      std::vector<nv_envoy_buffer> chunks;
      for (const auto& s : data.slices()) chunks.push_back({s.data(), s.size()});
      slot.config->hooks().http_stream_data(&slot, slot.module_filter, id_, chunks.empty() ? nullptr : chunks.data(),
                                            chunks.size(), end_stream);
    });
  }

  void deliverTrailers(const HeaderMap& trailers) {
    hook([&](FilterSlot& slot) {
      auto list = envoyHeaders(trailers);
      slot.config->hooks().http_stream_trailers(&slot, slot.module_filter, id_, list.data(), list.size());
    });
  }

  void deliverComplete() {
    hook([&](FilterSlot& slot) { slot.config->hooks().http_stream_complete(&slot, slot.module_filter, id_); });
  }

  void notifyReset() {
    hook([&](FilterSlot& slot) {
      slot.config->hooks().http_stream_reset(&slot, slot.module_filter, id_, NV_STREAM_RESET_LOCAL_RESET);
    });
  }

  std::weak_ptr<FilterSlot> slot_;
  const uint64_t id_;
  const bool streamed_;
  const Cluster& cluster_;
  UpstreamConnection* connection_ = nullptr;
  bool connecting_ = false;
  bool done_ = false;
  bool response_started_ = false;
  bool request_end_ = false;
  bool active_counted_ = false;
  std::unique_ptr<HeaderMap> pending_headers_;
  Buffer pending_body_;
  std::unique_ptr<HeaderMap> pending_trailers_;
  std::unique_ptr<HeaderMap> response_headers_;
  Buffer response_body_;
  std::unique_ptr<Timer> timeout_;
};

// kind: request headers or trailers (their inline headers differ, as in Envoy).
std::unique_ptr<HeaderMap> requestHeaders(const nv_module_header* headers, size_t n,
                                          HeaderMap::Kind kind = HeaderMap::Kind::RequestHeaders) {
  auto map = std::make_unique<HeaderMap>(kind);
  for (size_t i = 0; i < n; i++) {
    map->add(HeaderMap::lower(std::string_view(headers[i].key_ptr ? headers[i].key_ptr : "", headers[i].key_length)),
             std::string_view(headers[i].value_ptr ? headers[i].value_ptr : "", headers[i].value_length));
  }
  // Envoy's Host() is :authority; an HTTP/1-style host header is taken as it.
  if (kind == HeaderMap::Kind::RequestHeaders && map->get(":authority") == nullptr) {
    if (const std::string* host = map->get("host")) {
      std::string value = *host;
      map->remove("host");
      map->set(":authority", value);
    }
  }
  return map;
}

nv_http_callout_init_result startCallout(nv_filter_envoy_ptr fe, const char* callback, uint64_t* id_out,
                                         nv_module_buffer cluster_name, nv_module_header* headers, size_t n,
                                         nv_module_buffer body, bool end_stream, uint64_t timeout_ms, bool streamed) {
  FilterSlot* slot = calloutSlot(fe, callback);
  if (slot == nullptr || slot->stream == nullptr || slot->stream->ended()) return NV_CALLOUT_INIT_CANNOT_CREATE_REQUEST;
  auto map = requestHeaders(headers, n);
  if (map->get(":path") == nullptr || map->get(":method") == nullptr || map->get(":authority") == nullptr) {
    return NV_CALLOUT_INIT_MISSING_REQUIRED_HEADERS;
  }
  const auto& clusters = Server::instance().clusters;
  auto found = clusters.find(std::string(view(cluster_name)));
  if (found == clusters.end() || found->second == nullptr) return NV_CALLOUT_INIT_CLUSTER_NOT_FOUND;
  std::string bytes(view(body));
  if (!streamed && !bytes.empty()) map->set("content-length", std::to_string(bytes.size()));
  SlotCallouts& table = t_callouts[slot];
  const uint64_t id = table.next_id++;
  auto* callout = new Callout(*slot, id, streamed, *found->second);
  table.active[id] = callout;
  *id_out = id;  // before the request goes out: events may come back inside start()
  callout->start(std::move(map), std::move(bytes), streamed ? end_stream : true, timeout_ms);
  return NV_CALLOUT_INIT_SUCCESS;
}

Callout* findCallout(const FilterSlot* slot, uint64_t id) {
  auto it = t_callouts.find(slot);
  if (it == t_callouts.end()) return nullptr;
  auto callout = it->second.active.find(id);
  return callout == it->second.active.end() ? nullptr : callout->second;
}

}  // namespace

void cancelCallouts(const FilterSlot* slot) {
  auto it = t_callouts.find(slot);
  if (it == t_callouts.end()) return;
  std::map<uint64_t, Callout*> active;
  active.swap(it->second.active);
  t_callouts.erase(it);
  for (auto& [id, callout] : active) callout->cancel();
}

}  // namespace devhost

using namespace devhost;

#define NV_EXPORT extern "C" __attribute__((visibility("default")))

NV_EXPORT nv_http_callout_init_result envoy_dynamic_module_callback_http_filter_http_callout(
    nv_filter_envoy_ptr fe, uint64_t* callout_id_out, nv_module_buffer cluster_name, nv_module_header* headers,
    size_t headers_size, nv_module_buffer body, uint64_t timeout_milliseconds) noexcept {
  try {
    return startCallout(fe, "http_filter_http_callout", callout_id_out, cluster_name, headers, headers_size, body, true,
                        timeout_milliseconds, false);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "http_callout failed: %s", e.what());
    return NV_CALLOUT_INIT_CANNOT_CREATE_REQUEST;
  }
}

NV_EXPORT nv_http_callout_init_result envoy_dynamic_module_callback_http_filter_start_http_stream(
    nv_filter_envoy_ptr fe, uint64_t* stream_id_out, nv_module_buffer cluster_name, nv_module_header* headers,
    size_t headers_size, nv_module_buffer body, bool end_stream, uint64_t timeout_milliseconds) noexcept {
  try {
    return startCallout(fe, "http_filter_start_http_stream", stream_id_out, cluster_name, headers, headers_size, body,
                        end_stream, timeout_milliseconds, true);
  } catch (const std::exception& e) {
    DH_LOG(DynamicModules, Error, "start_http_stream failed: %s", e.what());
    return NV_CALLOUT_INIT_CANNOT_CREATE_REQUEST;
  }
}

NV_EXPORT bool envoy_dynamic_module_callback_http_stream_send_data(nv_filter_envoy_ptr fe, uint64_t stream_id,
                                                                   nv_module_buffer data, bool end_stream) noexcept {
  FilterSlot* slot = calloutSlot(fe, "http_stream_send_data");
  if (slot == nullptr) return false;
  try {
    Callout* callout = findCallout(slot, stream_id);
    return callout != nullptr && callout->sendData(view(data), end_stream);
  } catch (...) {
    return false;
  }
}

NV_EXPORT bool envoy_dynamic_module_callback_http_stream_send_trailers(nv_filter_envoy_ptr fe, uint64_t stream_id,
                                                                       nv_module_header* trailers,
                                                                       size_t trailers_size) noexcept {
  FilterSlot* slot = calloutSlot(fe, "http_stream_send_trailers");
  if (slot == nullptr) return false;
  try {
    Callout* callout = findCallout(slot, stream_id);
    return callout != nullptr && callout->sendTrailers(requestHeaders(trailers, trailers_size, HeaderMap::Kind::RequestTrailers));
  } catch (...) {
    return false;
  }
}

NV_EXPORT void envoy_dynamic_module_callback_http_filter_reset_http_stream(nv_filter_envoy_ptr fe,
                                                                           uint64_t stream_id) noexcept {
  FilterSlot* slot = calloutSlot(fe, "http_filter_reset_http_stream");
  if (slot == nullptr) return;
  try {
    if (Callout* callout = findCallout(slot, stream_id)) callout->resetByModule();
  } catch (...) {
  }
}
