#include "stream.h"

#include <time.h>

#include <cinttypes>
#include <random>

#include "callouts.h"
#include "envoy_version.h"
#include "log.h"
#include "router.h"

namespace devhost {

uint64_t monotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec / 1000000);
}

thread_local int tls_hook_depth = 0;

namespace {

// Formatted by hand: snprintf's format parsing cost more than the rest of the request id.
std::string uuid4() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  static const char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  size_t at = 0;
  auto put = [&](uint64_t bits, int digits) {
    for (int i = digits - 1; i >= 0; i--) out[at + size_t(digits - 1 - i)] = kHex[(bits >> (4 * i)) & 0xf];
    at += size_t(digits) + 1;  // and the '-' after it
  };
  put(a >> 32, 8);
  put((a >> 16) & 0xffff, 4);
  put(a & 0xffff, 4);
  put(b >> 48, 4);
  put(b & 0xffffffffffffULL, 12);
  return out;
}

// The Date header, formatted once per second per worker (Envoy's workers read a cached date too:
// TlsCachedDateProviderImpl).
std::string httpDate() {
  thread_local time_t cached_second = -1;
  thread_local std::string cached;
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm tm_now;
    gmtime_r(&now, &tm_now);
    char out[64];
    strftime(out, sizeof(out), "%a, %d %b %Y %H:%M:%S GMT", &tm_now);
    cached = out;
    cached_second = now;
  }
  return cached;
}

const char* kHopByHop[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"};

}  // namespace

ActiveStream::ActiveStream(Worker& worker, std::shared_ptr<HttpChain> chain, DownstreamCodec& codec,
                           ConnectionInfo info, uint64_t stream_id, uint32_t buffer_limit)
    : worker_(worker), chain_(std::move(chain)), codec_(&codec), info_(std::move(info)), stream_id_(stream_id),
      buffer_limit_(buffer_limit) {
  start_ms = monotonicMs();
  worker_.active_streams++;
  // Like Envoy's HCM for a new stream: an already blocked connection counts as one high watermark,
  // replayed to each filter as it registers.
  if (codec.aboveWriteBufferHighWatermark()) high_watermark_count_ = 1;
}

void ActiveStream::enterHook() {
  hook_depth++;
  tls_hook_depth++;
}

void ActiveStream::leaveHook() {
  hook_depth--;
  tls_hook_depth--;
  if (hook_depth == 0) hook_scratch_.clear();
}

std::string_view ActiveStream::keepForHook(std::string value) {
  hook_scratch_.push_back(std::move(value));
  return hook_scratch_.back();
}

ActiveStream::~ActiveStream() {
  // Envoy v1.40 runs every destroy hook from the deferred-deletion list, after all hooks returned
  // (earlier releases already did it in destroyFilters()).
  for (auto& slot : slots_) {
    cancelCallouts(slot.get());  // Envoy cancels a filter's callouts before its destroy hook, without events
    if (slot->created && !slot->destroyed) {
      slot->destroyed = true;
      HookScope scope(*this);
      slot->config->hooks().filter_destroy(slot->module_filter);
    }
    slot->destroyed = true;
    unregisterSlot(worker_, slot.get());
    slot->stream = nullptr;
  }
  worker_.active_streams--;
}

// ---- Filter chain creation -------------------------------------------------------------------

void ActiveStream::createFilterChain() {
  const auto& filters = chain_->filters();
  slots_.reserve(filters.size());
  for (size_t i = 0; i < filters.size(); i++) {
    const auto& config = filters[i];
    bool disabled = config->spec().disabled;
    if (const RouteFilterConfig* per_route = routeConfigFor(config->spec().instance_name)) {
      if (per_route->disabled.has_value()) disabled = *per_route->disabled;
    }
    if (disabled) continue;
    auto slot = std::make_shared<FilterSlot>(*this, config, slots_.size());
    registerSlot(worker_, slot.get());
    slots_.push_back(slot);
  }
  for (auto& slot : slots_) {
    HookScope scope(*this);
    slot->module_filter = slot->config->hooks().filter_new(slot->config->moduleConfig(), slot.get());
    if (slot->module_filter == nullptr) {
      chain_->hcm_stats.filter_init_failed->fetch_add(1);
      DH_LOG(DynamicModules, Error, "on_http_filter_new of filter %s returned null; failing the stream closed",
             slot->config->spec().instance_name.c_str());
      sendLocalReply(500, "", {}, "dynamic_module_filter_init_failed", nullptr);
      return;
    }
    slot->created = true;
    // Envoy registers every module filter for the downstream watermark events and replays the ones
    // already raised.
    for (uint32_t i = 0; i < high_watermark_count_ && !ended_; i++) {
      HookScope replay(*this);
      slot->config->hooks().above_watermark(slot.get(), slot->module_filter);
    }
    if (ended_) return;
  }
}

// ---- Events from the downstream codec --------------------------------------------------------

void ActiveStream::decodeHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) {
  chain_->hcm_stats.rq_total->fetch_add(1, std::memory_order_relaxed);
  chain_->hcm_stats.rq_active->fetch_add(1, std::memory_order_relaxed);
  mutateRequestHeaders(*headers);
  auto& ds = dirs_[int(Direction::Decode)];
  ds.headers = std::move(headers);
  ds.remote_complete = end_stream;
  createFilterChain();
  if (stopped(Direction::Decode)) return;
  if (!chain_->spec().router_present) {
    // A terminal module filter answers; there is no router behind it.
  } else {
    router_ = std::make_unique<Router>(*this);
    for (uint32_t i = 0; i < high_watermark_count_; i++) router_->onAboveWriteBufferHighWatermark();
  }
  iterateHeaders(Direction::Decode, 0, end_stream);
}

void ActiveStream::decodeData(Buffer& data, bool end_stream) {
  auto& ds = dirs_[int(Direction::Decode)];
  request_body_bytes += data.length();
  ds.remote_complete = end_stream;
  if (stopped(Direction::Decode)) return;
  iterateData(Direction::Decode, 0, data, end_stream);
}

void ActiveStream::decodeTrailers(std::unique_ptr<HeaderMap> trailers) {
  auto& ds = dirs_[int(Direction::Decode)];
  ds.trailers = std::move(trailers);
  ds.remote_complete = true;
  if (stopped(Direction::Decode)) return;
  iterateTrailers(Direction::Decode, 0);
}

void ActiveStream::sendProtocolError(uint32_t code, std::string_view body, std::string_view details) {
  chain_->hcm_stats.rq_total->fetch_add(1, std::memory_order_relaxed);
  chain_->hcm_stats.rq_active->fetch_add(1, std::memory_order_relaxed);
  dirs_[int(Direction::Decode)].remote_complete = true;
  createFilterChain();
  if (!ended_) sendLocalReply(code, body, {}, details, nullptr);
}

void ActiveStream::onDownstreamReset() {
  if (ended_) return;
  DH_LOG(Http, Debug, "[S%" PRIu64 "] downstream reset", stream_id_);
  if (response_code_details.empty()) response_code_details = "downstream_remote_disconnect";
  codec_ = nullptr;  // the connection is gone; nothing more is written
  endStream(true);
}

void ActiveStream::readDisableDownstream(bool disable) {
  if (codec_ == nullptr) return;
  (disable ? chain_->hcm_stats.flow_control_paused_reading : chain_->hcm_stats.flow_control_resumed_reading)->fetch_add(1);
  codec_->readDisable(disable);
}

void ActiveStream::onDownstreamWatermark(bool above) {
  if (ended_) return;
  if (above) {
    callHighWatermarkCallbacks();
  } else {
    callLowWatermarkCallbacks();
  }
}

void ActiveStream::callHighWatermarkCallbacks() {
  high_watermark_count_++;
  if (router_) router_->onAboveWriteBufferHighWatermark();
  for (size_t i = 0; i < slots_.size() && !ended_; i++) {
    FilterSlot& slot = *slots_[i];
    if (!slot.created || slot.destroyed) continue;
    HookScope scope(*this);
    slot.config->hooks().above_watermark(&slot, slot.module_filter);
  }
}

void ActiveStream::callLowWatermarkCallbacks() {
  if (high_watermark_count_ == 0) return;
  high_watermark_count_--;
  if (router_) router_->onBelowWriteBufferLowWatermark();
  for (size_t i = 0; i < slots_.size() && !ended_; i++) {
    FilterSlot& slot = *slots_[i];
    if (!slot.created || slot.destroyed) continue;
    HookScope scope(*this);
    slot.config->hooks().below_watermark(&slot, slot.module_filter);
  }
}

// ---- Events from the router ------------------------------------------------------------------

void ActiveStream::encodeHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) {
  auto& ds = dirs_[int(Direction::Encode)];
  if (stopped(Direction::Encode)) return;
  ds.headers = std::move(headers);
  ds.remote_complete = end_stream;
  if (const std::string* status = ds.headers->get(":status")) response_code = static_cast<uint32_t>(atoi(status->c_str()));
  iterateHeaders(Direction::Encode, 0, end_stream);
}

void ActiveStream::encodeData(Buffer& data, bool end_stream) {
  auto& ds = dirs_[int(Direction::Encode)];
  if (stopped(Direction::Encode)) return;
  ds.remote_complete = end_stream;
  iterateData(Direction::Encode, 0, data, end_stream);
}

void ActiveStream::encodeTrailers(std::unique_ptr<HeaderMap> trailers) {
  auto& ds = dirs_[int(Direction::Encode)];
  if (stopped(Direction::Encode)) return;
  ds.trailers = std::move(trailers);
  ds.remote_complete = true;
  iterateTrailers(Direction::Encode, 0);
}

// ---- Iteration (Envoy's FilterManager rules) --------------------------------------------------

// While a request hook runs, a local reply is only prepared (Envoy's IsDecodingMask).
class DecodingScope {
 public:
  DecodingScope(int& depth, Direction dir) : depth_(depth), active_(dir == Direction::Decode) {
    if (active_) depth_++;
  }
  ~DecodingScope() {
    if (active_) depth_--;
  }

 private:
  int& depth_;
  bool active_;
};

// Runs one module hook of `dir` for `slot` with the hook bookkeeping around it.
template <class Call>
static auto runHook(ActiveStream& stream, int& decoding_depth, Direction dir, const FilterSlot& slot, Call call) {
  HookScope scope(stream);
  DecodingScope decoding(decoding_depth, dir);
  return call(slot.config->hooks());
}

nv_headers_status ActiveStream::callHeadersHook(Direction dir, FilterSlot& slot, bool end_stream) {
  const nv_headers_status status = runHook(*this, decoding_depth_, dir, slot, [&](const HttpFilterHooks& hooks) {
    return dir == Direction::Decode ? hooks.request_headers(&slot, slot.module_filter, end_stream)
                                    : hooks.response_headers(&slot, slot.module_filter, end_stream);
  });
  afterHook(dir, slot, status == NV_HEADERS_CONTINUE);
  return status;
}

nv_body_status ActiveStream::callBodyHook(Direction dir, FilterSlot& slot, Buffer& data, bool end_stream) {
  auto& ds = dirs_[int(dir)];
  // The frame is only "received"; Envoy (since v1.38.0, PR #44081) no longer moves the last frame into
  // the buffered body at end of stream, so a buffering filter reads both at the end.
  Buffer* previous = ds.received;
  ds.received = &data;
  const nv_body_status status = runHook(*this, decoding_depth_, dir, slot, [&](const HttpFilterHooks& hooks) {
    return dir == Direction::Decode ? hooks.request_body(&slot, slot.module_filter, end_stream)
                                    : hooks.response_body(&slot, slot.module_filter, end_stream);
  });
  ds.received = previous;
  afterHook(dir, slot, status == NV_BODY_CONTINUE);
  return status;
}

nv_trailers_status ActiveStream::callTrailersHook(Direction dir, FilterSlot& slot) {
  const nv_trailers_status status = runHook(*this, decoding_depth_, dir, slot, [&](const HttpFilterHooks& hooks) {
    return dir == Direction::Decode ? hooks.request_trailers(&slot, slot.module_filter)
                                    : hooks.response_trailers(&slot, slot.module_filter);
  });
  afterHook(dir, slot, status == NV_TRAILERS_CONTINUE);
  return status;
}

void ActiveStream::afterHook(Direction dir, FilterSlot& slot, bool continued) {
  if (envoyVersion() == EnvoyVersion::V1_38) slot.shared_in_continue = continued;
  // A reply sent during a request hook goes out now that the hook has returned.
  if (dir == Direction::Decode && prepared_reply_ && decoding_depth_ == 0) executePreparedReply();
}

void ActiveStream::iterateHeaders(Direction dir, size_t start, bool end_stream) {
  bool add_end_after = false;
  for (size_t i = start; i < filterCount(); i++) {
    FilterSlot& slot = slotAt(dir, i);
    auto& sd = slot.dir[int(dir)];
    sd.end_stream_seen = end_stream;
    if (skipsHooks(dir, slot)) {
      sd.headers_continued = true;
      continue;
    }
    nv_headers_status status = callHeadersHook(dir, slot, end_stream);
    if (stopped(dir)) return;
    switch (status) {
      case NV_HEADERS_CONTINUE:
        sd.headers_continued = true;
        break;
      case NV_HEADERS_CONTINUE_AND_DONT_END_STREAM:
        sd.headers_continued = true;
        if (end_stream) {
          end_stream = false;
          add_end_after = true;
        }
        break;
      case NV_HEADERS_STOP_ITERATION:
        sd.iteration = Iteration::StopSingle;
        return;
      case NV_HEADERS_STOP_ALL_ITERATION_AND_BUFFER:
      case NV_HEADERS_STOP_ALL_ITERATION_AND_WATERMARK:
        sd.iteration = Iteration::StopAll;
        sd.stopped_all_with_watermark = status == NV_HEADERS_STOP_ALL_ITERATION_AND_WATERMARK;
        return;
      default:
        DH_LOG(DynamicModules, Error, "filter %s returned invalid headers status %d; treating it as StopIteration",
               slot.config->spec().instance_name.c_str(), static_cast<int>(status));
        sd.iteration = Iteration::StopSingle;
        return;
    }
  }
  sinkHeaders(dir, end_stream);
  if (add_end_after && !stopped(dir)) {
    Buffer empty;
    sinkData(dir, empty, true);
  }
}

void ActiveStream::bufferData(Direction dir, Buffer& data) {
  auto& ds = dirs_[int(dir)];
  ds.buffered.move(data);
  ds.has_buffered = true;
  if (ds.buffered.length() <= buffer_limit_) return;
  if (ds.filters_streaming) {
    // A watermark status: over the limit Envoy applies flow control (raised once until drained).
    if (ds.buffer_above_limit) return;
    ds.buffer_above_limit = true;
    if (dir == Direction::Decode) {
      chain_->hcm_stats.flow_control_paused_reading->fetch_add(1);
      if (codec_) codec_->readDisable(true);  // stop reading the request until the buffer drains
    } else {
      callHighWatermarkCallbacks();  // the router stops reading the upstream; modules are told
    }
    return;
  }
  if (dir == Direction::Decode) {
    chain_->hcm_stats.rq_too_large->fetch_add(1);
    sendLocalReply(413, "Payload Too Large", {}, "request_payload_too_large", nullptr);
  } else if (!response_started_) {
    sendLocalReply(500, "Internal Server Error", {}, "response_payload_too_large", nullptr);
  } else {
    resetStream("response_payload_too_large");
  }
}

void ActiveStream::checkBufferedBelowLimit(Direction dir) {
  auto& ds = dirs_[int(dir)];
  // Envoy's watermark buffer: the low watermark is half the limit.
  if (!ds.buffer_above_limit || ds.buffered.length() > buffer_limit_ / 2) return;
  ds.buffer_above_limit = false;
  if (dir == Direction::Decode) {
    chain_->hcm_stats.flow_control_resumed_reading->fetch_add(1);
    if (codec_) codec_->readDisable(false);
  } else {
    callLowWatermarkCallbacks();
  }
}

void ActiveStream::onBufferedBodyDrained(nv_body_type type) {
  checkBufferedBelowLimit(type == NV_BODY_BUFFERED_REQUEST ? Direction::Decode : Direction::Encode);
}

void ActiveStream::iterateData(Direction dir, size_t start, Buffer& data, bool end_stream) {
  auto& ds = dirs_[int(dir)];
  const bool is_buffered = &data == &ds.buffered;
  for (size_t i = start; i < filterCount(); i++) {
    FilterSlot& slot = slotAt(dir, i);
    auto& sd = slot.dir[int(dir)];
    if (skipsHooks(dir, slot)) continue;
    if (sd.iteration == Iteration::StopAll) {
      // The filter stopped everything at headers: hold the data until it continues.
      ds.filters_streaming = sd.stopped_all_with_watermark;
      if (!is_buffered) bufferData(dir, data);
      return;
    }
    if (sd.end_stream_seen) return;  // this filter has already seen the end of the stream
    sd.end_stream_seen = end_stream;
    nv_body_status status = callBodyHook(dir, slot, data, end_stream);
    if (stopped(dir)) return;
    if (status == NV_BODY_CONTINUE) {
      if (sd.iteration == Iteration::StopSingle) {
        // Headers (or earlier data) were stopped here: everything resumes from this filter.
        if (!is_buffered) bufferData(dir, data);
        if (stopped(dir)) return;
        continueIteration(dir, slot);
        return;
      }
      continue;
    }
    sd.iteration = Iteration::StopSingle;
    if (status == NV_BODY_STOP_ITERATION_AND_BUFFER || status == NV_BODY_STOP_ITERATION_AND_WATERMARK) {
      ds.filters_streaming = status == NV_BODY_STOP_ITERATION_AND_WATERMARK;
      if (!is_buffered) bufferData(dir, data);
    } else if (status == NV_BODY_STOP_ITERATION_NO_BUFFER) {
      // Nothing is kept; make sure a later continue still carries end of stream.
      if (ds.remote_complete && !ds.trailers && !ds.has_buffered) ds.has_buffered = true;
    } else {
      DH_LOG(DynamicModules, Error, "filter %s returned invalid body status %d; treating it as StopIterationAndBuffer",
             slot.config->spec().instance_name.c_str(), static_cast<int>(status));
      if (!is_buffered) bufferData(dir, data);
    }
    return;
  }
  sinkData(dir, data, end_stream);
}

void ActiveStream::iterateTrailers(Direction dir, size_t start) {
  for (size_t i = start; i < filterCount(); i++) {
    FilterSlot& slot = slotAt(dir, i);
    auto& sd = slot.dir[int(dir)];
    if (skipsHooks(dir, slot)) continue;
    if (sd.iteration == Iteration::StopAll) return;  // delivered when the filter continues
    nv_trailers_status status = callTrailersHook(dir, slot);
    if (stopped(dir)) return;
    if (status == NV_TRAILERS_CONTINUE) {
      if (sd.iteration == Iteration::StopSingle) {
        continueIteration(dir, slot);
        return;
      }
      continue;
    }
    sd.iteration = Iteration::StopSingle;
    return;
  }
  sinkTrailers(dir);
}

void ActiveStream::continueIteration(Direction dir, FilterSlot& slot) {
  if (stopped(dir)) return;
  auto& sd = slot.dir[int(dir)];
  auto& ds = dirs_[int(dir)];
  const bool from_current = sd.iteration == Iteration::StopAll;
  sd.iteration = Iteration::Continue;
  const size_t pos = positionOf(dir, slot);
  const bool had_trailers = ds.trailers != nullptr;
  if (!sd.headers_continued) {
    sd.headers_continued = true;
    iterateHeaders(dir, pos + 1, ds.remote_complete && !ds.has_buffered && !had_trailers);
    if (stopped(dir)) return;
  }
  if (ds.has_buffered) {
    iterateData(dir, from_current ? pos : pos + 1, ds.buffered, ds.remote_complete && !had_trailers);
    if (stopped(dir)) return;
    checkBufferedBelowLimit(dir);
    if (stopped(dir)) return;
  }
  if (had_trailers) iterateTrailers(dir, from_current ? pos : pos + 1);
}

// ---- Sinks: the router (decode) and the downstream codec (encode) ------------------------------

void ActiveStream::sinkHeaders(Direction dir, bool end_stream) {
  auto& ds = dirs_[int(dir)];
  if (dir == Direction::Decode) {
    if (router_) router_->decodeHeaders(*ds.headers, end_stream);
    return;
  }
  mutateResponseHeaders(*ds.headers);
  response_started_ = true;
  if (const std::string* status = ds.headers->get(":status")) response_code = static_cast<uint32_t>(atoi(status->c_str()));
  if (codec_) codec_->encodeHeaders(*ds.headers, end_stream);
  if (end_stream) onResponseComplete();
}

void ActiveStream::sinkData(Direction dir, Buffer& data, bool end_stream) {
  auto& ds = dirs_[int(dir)];
  if (ds.sink_complete) return;
  if (end_stream) ds.sink_complete = true;
  if (dir == Direction::Decode) {
    if (router_) {
      router_->decodeData(data, end_stream);
    } else {
      data.clear();  // a terminal filter consumed it
    }
    return;
  }
  response_body_bytes += data.length();
  if (codec_) codec_->encodeData(data, end_stream);
  data.clear();
  if (end_stream) onResponseComplete();
}

void ActiveStream::sinkTrailers(Direction dir) {
  auto& ds = dirs_[int(dir)];
  if (ds.sink_complete) return;
  ds.sink_complete = true;
  if (dir == Direction::Decode) {
    if (router_) router_->decodeTrailers(*ds.trailers);
    return;
  }
  if (codec_) codec_->encodeTrailers(*ds.trailers);
  onResponseComplete();
}

void ActiveStream::onResponseComplete() {
  dirs_[int(Direction::Encode)].sink_complete = true;
  uint32_t klass = response_code / 100;
  if (klass >= 1 && klass <= 5) chain_->hcm_stats.rq_xx[klass]->fetch_add(1, std::memory_order_relaxed);
  endStream(false);
}

// ---- Local replies, streamed responses, resets ---------------------------------------------------

void ActiveStream::sendLocalReply(uint32_t code, std::string_view body,
                                  const std::vector<std::pair<std::string, std::string>>& extra_headers,
                                  std::string_view details, FilterSlot* sender) {
  if (ended_) return;
  if (response_started_) {
    // Too late for a reply: headers already went downstream.
    resetStream(details);
    return;
  }
  bool reset = false;
  for (auto& slot : slots_) {
    if (!slot->created || slot->config->hooks().local_reply == nullptr) continue;
    nv_envoy_buffer details_buffer{details.data(), details.size()};
    HookScope scope(*this);
    if (slot->config->hooks().local_reply(slot.get(), slot->module_filter, code, details_buffer, reset) ==
        NV_LOCAL_REPLY_CONTINUE_AND_RESET_STREAM) {
      reset = true;
    }
    if (ended_) return;
  }
  if (reset) {
    resetStream(details);
    return;
  }
  dirs_[int(Direction::Decode)].aborted = true;
  if (router_) router_->reset();
  if (sender) sender->sent_local_reply = true;
  response_code_details.assign(details);

  auto headers = std::make_unique<HeaderMap>(HeaderMap::Kind::ResponseHeaders);
  headers->set(":status", std::to_string(code));
  for (const auto& [key, value] : extra_headers) headers->add(key, value);
  if (body.empty()) {
    headers->remove("content-length");
    headers->remove("content-type");
  } else {
    headers->set("content-length", std::to_string(body.size()));
    if (!headers->get("content-type")) headers->set("content-type", "text/plain");
  }
  response_code = code;

  auto& es = dirs_[int(Direction::Encode)];
  if (es.headers) {
    // Encoding had begun but nothing reached the codec: Envoy answers directly, bypassing the
    // encoder filters.
    es.aborted = true;
    es.headers = std::move(headers);
    mutateResponseHeaders(*es.headers);
    response_started_ = true;
    if (codec_) codec_->encodeHeaders(*es.headers, body.empty());
    if (!body.empty()) {
      Buffer data;
      data.append(body);
      if (codec_) codec_->encodeData(data, true);
    }
    onResponseComplete();
    return;
  }
  if (decoding_depth_ > 0) {
    // Sent from a request hook: Envoy prepares the reply and encodes it once the hook returns
    // (on_http_filter_local_reply above has already run, synchronously). The first one wins.
    if (!prepared_reply_) prepared_reply_ = std::make_unique<PreparedReply>(PreparedReply{std::move(headers), std::string(body)});
    return;
  }
  encodeLocalReply(std::move(headers), body);
}

void ActiveStream::encodeLocalReply(std::unique_ptr<HeaderMap> headers, std::string_view body) {
  auto& es = dirs_[int(Direction::Encode)];
  es.headers = std::move(headers);
  es.remote_complete = true;
  iterateHeaders(Direction::Encode, 0, body.empty());
  if (!body.empty() && !stopped(Direction::Encode)) {
    Buffer data;
    data.append(body);
    iterateData(Direction::Encode, 0, data, true);
  }
}

void ActiveStream::executePreparedReply() {
  std::unique_ptr<PreparedReply> reply = std::move(prepared_reply_);
  if (ended_ || response_started_ || dirs_[int(Direction::Encode)].headers) return;
  encodeLocalReply(std::move(reply->headers), reply->body);
}

// Since v1.39 a module's streamed response skips its own encode hooks (sent_local_reply_); v1.38 runs them.
static void markStreamedReplySender(FilterSlot* sender) {
  if (sender && envoyAtLeast(EnvoyVersion::V1_39)) sender->sent_local_reply = true;
}

void ActiveStream::sendResponseHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream, FilterSlot* sender) {
  if (ended_ || response_started_ || stopped(Direction::Encode)) return;
  markStreamedReplySender(sender);
  auto& es = dirs_[int(Direction::Encode)];
  es.headers = std::move(headers);
  es.remote_complete = end_stream;
  if (const std::string* status = es.headers->get(":status")) response_code = static_cast<uint32_t>(atoi(status->c_str()));
  iterateHeaders(Direction::Encode, 0, end_stream);
}

void ActiveStream::sendResponseData(std::string_view data, bool end_stream, FilterSlot* sender) {
  auto& es = dirs_[int(Direction::Encode)];
  if (ended_ || !es.headers || es.remote_complete || stopped(Direction::Encode)) return;
  markStreamedReplySender(sender);
  es.remote_complete = end_stream;
  Buffer buffer;
  buffer.append(data);
  iterateData(Direction::Encode, 0, buffer, end_stream);
}

void ActiveStream::sendResponseTrailers(std::unique_ptr<HeaderMap> trailers, FilterSlot* sender) {
  auto& es = dirs_[int(Direction::Encode)];
  if (ended_ || !es.headers || es.remote_complete || stopped(Direction::Encode)) return;
  markStreamedReplySender(sender);
  es.trailers = std::move(trailers);
  es.remote_complete = true;
  iterateTrailers(Direction::Encode, 0);
}

void ActiveStream::resetStream(std::string_view details) {
  if (ended_) return;
  if (!details.empty()) response_code_details.assign(details);
  DH_LOG(Http, Debug, "[S%" PRIu64 "] stream reset: %.*s", stream_id_, static_cast<int>(details.size()), details.data());
  endStream(true);
}

void ActiveStream::endStream(bool reset) {
  if (ended_) return;
  ended_ = true;
  dirs_[0].aborted = dirs_[1].aborted = true;
  if (router_) router_->reset();
  chain_->hcm_stats.rq_active->fetch_sub(1, std::memory_order_relaxed);
  prepared_reply_.reset();
  // A request body this stream held back with flow control no longer holds the connection.
  if (dirs_[int(Direction::Decode)].buffer_above_limit && codec_) codec_->readDisable(false);
  dirs_[int(Direction::Decode)].buffer_above_limit = false;
  // Every stream_complete runs before any destroy.
  for (auto& slot : slots_) {
    if (!slot->created) continue;
    HookScope scope(*this);
    slot->config->hooks().stream_complete(slot.get(), slot->module_filter);
  }
  // Envoy <= v1.39 (doDeferredStreamDestroy -> destroyFilters) destroys the filters right here, inside
  // whatever call ended the stream, even a module's own send_response or continue; v1.40 defers it.
  if (!envoyAtLeast(EnvoyVersion::V1_40)) destroyFilters();
  DownstreamCodec* codec = codec_;
  codec_ = nullptr;
  if (codec) codec->onStreamEnded(reset);
}

void ActiveStream::destroyFilters() {
  if (filters_destroyed_) return;
  filters_destroyed_ = true;
  for (auto& slot : slots_) {
    if (!slot->created || slot->destroyed) continue;
    slot->destroyed = slot->destroyed_before_stream = true;  // no hook reaches it any more
    HookScope scope(*this);
    slot->config->hooks().filter_destroy(slot->module_filter);
  }
}

// ---- Routing ----------------------------------------------------------------------------------

const RouteEntry* ActiveStream::route() {
  if (!route_cached_) {
    route_ = dirs_[0].headers ? chain_->route(*dirs_[0].headers, &vhost_) : nullptr;
    route_cached_ = true;
  }
  return route_;
}

void ActiveStream::clearRouteCache() {
  route_cached_ = false;
  route_ = nullptr;
  vhost_ = nullptr;
}

const RouteFilterConfig* ActiveStream::routeConfigFor(const std::string& filter_name) {
  const RouteEntry* entry = route();
  if (entry) {
    auto it = entry->per_filter.find(filter_name);
    if (it != entry->per_filter.end()) return it->second.get();
  }
  if (vhost_) {
    auto it = vhost_->per_filter.find(filter_name);
    if (it != vhost_->per_filter.end()) return it->second.get();
  }
  return nullptr;
}

// ---- Accessors for the ABI ---------------------------------------------------------------------

HeaderMap* ActiveStream::headers(nv_header_type type) {
  switch (type) {
    case NV_HEADER_REQUEST: return dirs_[0].headers.get();
    case NV_HEADER_REQUEST_TRAILER: return dirs_[0].trailers.get();
    case NV_HEADER_RESPONSE: return dirs_[1].headers.get();
    case NV_HEADER_RESPONSE_TRAILER: return dirs_[1].trailers.get();
  }
  return nullptr;
}

Buffer* ActiveStream::body(nv_body_type type) {
  switch (type) {
    case NV_BODY_RECEIVED_REQUEST: return dirs_[0].received;
    case NV_BODY_BUFFERED_REQUEST: return dirs_[0].has_buffered ? &dirs_[0].buffered : nullptr;
    case NV_BODY_RECEIVED_RESPONSE: return dirs_[1].received;
    case NV_BODY_BUFFERED_RESPONSE: return dirs_[1].has_buffered ? &dirs_[1].buffered : nullptr;
  }
  return nullptr;
}

Buffer* ActiveStream::createBufferedBody(nv_body_type type) {
  auto& ds = dirs_[type == NV_BODY_BUFFERED_REQUEST ? 0 : 1];
  ds.has_buffered = true;
  return &ds.buffered;
}

// ---- Header mutations done by Envoy's connection manager ---------------------------------------

void ActiveStream::mutateRequestHeaders(HeaderMap& headers) {
  for (const char* name : kHopByHop) headers.remove(name);
  if (!headers.get(":scheme")) headers.set(":scheme", "http");
  if (!headers.get("x-forwarded-proto")) headers.set("x-forwarded-proto", "http");
  if (chain_->spec().generate_request_id && !headers.get("x-request-id")) headers.set("x-request-id", uuid4());
}

void ActiveStream::mutateResponseHeaders(HeaderMap& headers) {
  for (const char* name : kHopByHop) headers.remove(name);
  if (!headers.get("date")) headers.set("date", httpDate());
  headers.set("server", chain_->spec().server_name);
}

}  // namespace devhost
