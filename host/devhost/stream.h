// One HTTP stream and its filter chain: Envoy's filter-manager iteration rules (stop/continue,
// buffering, trailers, local replies) applied to dynamic-module filters.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "buffer.h"
#include "dispatcher.h"
#include "header_map.h"
#include "server.h"

namespace devhost {

class ActiveStream;
class Router;

enum class Direction { Decode = 0, Encode = 1 };
enum class Iteration { Continue, StopSingle, StopAll };

// The per-stream, per-filter object handed to the module as filter_envoy_ptr.
class FilterSlot : public std::enable_shared_from_this<FilterSlot> {
 public:
  FilterSlot(ActiveStream& stream, std::shared_ptr<FilterConfig> config, size_t index)
      : stream(&stream), config(std::move(config)), index(index) {}

  ActiveStream* stream;  // valid until destroy
  std::shared_ptr<FilterConfig> config;
  size_t index;
  nv_filter_module_ptr module_filter = nullptr;
  bool created = false;      // on_http_filter_new returned non-null
  bool destroyed = false;    // on_http_filter_destroy has run (or is running)
  // Destroyed by Envoy <= v1.39's synchronous teardown while the stream object lives on: a callback with
  // this pointer would reach null callbacks in Envoy, so the dev host refuses it.
  bool destroyed_before_stream = false;
  bool sent_local_reply = false;  // its own encode hooks are skipped from now on
  // Envoy v1.38's single in_continue_ flag, shared by both directions: set from every hook's status
  // (true for Continue) and by a continue call, which is a no-op while it is true.
  bool shared_in_continue = false;
  struct DirState {
    Iteration iteration = Iteration::Continue;
    bool stopped_all_with_watermark = false;  // StopAllIterationAndWatermark: buffered data streams
    bool headers_continued = false;
    bool end_stream_seen = false;
  } dir[2];
};

// Scheduler handle given to the module by http_filter_scheduler_new.
struct FilterScheduler {
  std::weak_ptr<FilterSlot> slot;
  Dispatcher* dispatcher;
};


// What the stream writes its response into: the downstream HTTP/1.1 connection.
class DownstreamCodec {
 public:
  virtual ~DownstreamCodec() = default;
  virtual void encodeHeaders(HeaderMap& headers, bool end_stream) = 0;
  virtual void encodeData(Buffer& data, bool end_stream) = 0;
  virtual void encodeTrailers(HeaderMap& trailers) = 0;
  // The stream has ended (response complete or reset); the codec goes on or closes.
  virtual void onStreamEnded(bool reset) = 0;
  // Flow control: stop (and, as many times, resume) reading the downstream connection.
  virtual void readDisable(bool disable) = 0;
  // The connection's write buffer is above its high watermark.
  virtual bool aboveWriteBufferHighWatermark() const = 0;
};

struct ConnectionInfo {
  std::string remote_ip;
  uint32_t remote_port = 0;
  std::string local_ip;
  uint32_t local_port = 0;
  uint64_t connection_id = 0;
};

class ActiveStream : public DeferredDeletable {
 public:
  ActiveStream(Worker& worker, std::shared_ptr<HttpChain> chain, DownstreamCodec& codec, ConnectionInfo info,
               uint64_t stream_id, uint32_t buffer_limit);
  ~ActiveStream() override;  // calls on_http_filter_destroy for every filter

  // ---- Events from the downstream codec (worker thread) ----
  void decodeHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream);
  void decodeData(Buffer& data, bool end_stream);
  void decodeTrailers(std::unique_ptr<HeaderMap> trailers);
  // The codec refuses the request before its headers reach the filters (e.g. HTTP/1.0 without
  // accept_http_10): like Envoy, the filter chain is created for the local reply.
  void sendProtocolError(uint32_t code, std::string_view body, std::string_view details);
  // The downstream connection went away or broke.
  void onDownstreamReset();
  // Downstream write buffer crossed its watermarks.
  void onDownstreamWatermark(bool above);
  // The router's upstream connection is backed up (Envoy's onDecoderFilterAboveWriteBufferHighWatermark),
  // then drained: stop, then resume, reading the request (refcounted by the codec).
  void readDisableDownstream(bool disable);
  // The HTTP/1 request line's version: "HTTP/1.0" or "HTTP/1.1" (the RequestProtocol attribute).
  void setProtocol(std::string protocol) { protocol_ = std::move(protocol); }
  const std::string& protocol() const { return protocol_; }

  // ---- Events from the router (worker thread) ----
  void encodeHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream);
  void encodeData(Buffer& data, bool end_stream);
  void encodeTrailers(std::unique_ptr<HeaderMap> trailers);

  // ---- Actions from filters and the router (worker thread) ----
  // Sends a local reply through the encoder filters (skipping the sender's own hooks).
  void sendLocalReply(uint32_t code, std::string_view body, const std::vector<std::pair<std::string, std::string>>& headers,
                      std::string_view details, FilterSlot* sender);
  // Streamed response from a filter (send_response_headers/data/trailers).
  void sendResponseHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream, FilterSlot* sender);
  void sendResponseData(std::string_view data, bool end_stream, FilterSlot* sender);
  void sendResponseTrailers(std::unique_ptr<HeaderMap> trailers, FilterSlot* sender);
  void continueIteration(Direction dir, FilterSlot& slot);
  // Resets the stream: the downstream connection is closed, only teardown hooks run after it.
  void resetStream(std::string_view details);
  void clearRouteCache();
  // The cached route, computed on first use.
  const RouteEntry* route();
  const VirtualHostEntry* virtualHost() {
    route();
    return vhost_;
  }
  // The per-route config of the named HTTP filter: the route's, else the virtual host's.
  const RouteFilterConfig* routeConfigFor(const std::string& filter_name);

  // ---- State the ABI callbacks read ----
  Worker& worker() { return worker_; }
  HttpChain& chain() { return *chain_; }
  HeaderMap* headers(nv_header_type type);
  Buffer* body(nv_body_type type);
  // Creates the buffered body of that direction if absent (appending to it is allowed).
  Buffer* createBufferedBody(nv_body_type type);
  // A module drained a buffered body: it may have dropped below its low watermark.
  void onBufferedBodyDrained(nv_body_type type);
  // Backs a string attribute computed on request; valid until the outermost running hook returns.
  std::string_view keepForHook(std::string value);
  bool receivedIsBuffered(Direction dir) const { return dirs_[int(dir)].received == &dirs_[int(dir)].buffered; }
  uint32_t bufferLimit() const { return buffer_limit_; }
  void setBufferLimit(uint32_t limit) { buffer_limit_ = limit; }
  bool ended() const { return ended_; }
  bool responseStarted() const { return response_started_; }
  const ConnectionInfo& connection() const { return info_; }
  uint64_t id() const { return stream_id_; }
  MetadataMap dynamic_metadata;
  std::map<std::string, std::string> filter_state;
  std::string response_code_details;
  uint32_t response_code = 0;
  uint64_t start_ms = 0;
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
  int hook_depth = 0;  // > 0 while any hook of this stream runs
  void enterHook();
  void leaveHook();

 private:
  struct DirState {
    std::unique_ptr<HeaderMap> headers;
    std::unique_ptr<HeaderMap> trailers;
    Buffer buffered;
    bool has_buffered = false;
    Buffer* received = nullptr;   // the frame being delivered to a body hook
    bool remote_complete = false; // the source has sent everything in this direction
    bool aborted = false;         // no more iteration in this direction
    bool sink_complete = false;   // the sink has seen end of stream
    // A filter stopped with a watermark status (Envoy's *_filters_streaming_): over the buffer limit,
    // the buffered body raises flow control instead of a 413/500.
    bool filters_streaming = false;
    bool buffer_above_limit = false;  // that flow control is raised
  };
  // A local reply sent while a request hook runs: Envoy only prepares it then, and encodes it once the
  // hook has returned.
  struct PreparedReply {
    std::unique_ptr<HeaderMap> headers;
    std::string body;
  };

  void createFilterChain();
  size_t filterCount() const { return slots_.size(); }
  // The i-th filter in iteration order for dir (encode runs in reverse).
  FilterSlot& slotAt(Direction dir, size_t i) {
    return dir == Direction::Decode ? *slots_[i] : *slots_[slots_.size() - 1 - i];
  }
  size_t positionOf(Direction dir, const FilterSlot& slot) const {
    return dir == Direction::Decode ? slot.index : slots_.size() - 1 - slot.index;
  }
  bool skipsHooks(Direction dir, const FilterSlot& slot) const {
    return !slot.created || (dir == Direction::Encode && slot.sent_local_reply);
  }
  bool stopped(Direction dir) const { return ended_ || dirs_[int(dir)].aborted; }

  void iterateHeaders(Direction dir, size_t start, bool end_stream);
  void iterateData(Direction dir, size_t start, Buffer& data, bool end_stream);
  void iterateTrailers(Direction dir, size_t start);
  void bufferData(Direction dir, Buffer& data);
  void sinkHeaders(Direction dir, bool end_stream);
  void sinkData(Direction dir, Buffer& data, bool end_stream);
  void sinkTrailers(Direction dir);

  nv_headers_status callHeadersHook(Direction dir, FilterSlot& slot, bool end_stream);
  nv_body_status callBodyHook(Direction dir, FilterSlot& slot, Buffer& data, bool end_stream);
  nv_trailers_status callTrailersHook(Direction dir, FilterSlot& slot);

  void onResponseComplete();
  void endStream(bool reset);
  // Envoy <= v1.39 destroys the filters right after stream_complete, inside whatever call ended the stream.
  void destroyFilters();
  void encodeLocalReply(std::unique_ptr<HeaderMap> headers, std::string_view body);
  void executePreparedReply();
  // Called after a hook of `dir` returned: the bookkeeping Envoy's module filter does on each status.
  void afterHook(Direction dir, FilterSlot& slot, bool continued);
  // Envoy's filter-manager watermark callbacks: the router (upstream reads) and every module filter.
  void callHighWatermarkCallbacks();
  void callLowWatermarkCallbacks();
  void checkBufferedBelowLimit(Direction dir);
  void mutateRequestHeaders(HeaderMap& headers);
  void mutateResponseHeaders(HeaderMap& headers);

  Worker& worker_;
  std::shared_ptr<HttpChain> chain_;
  DownstreamCodec* codec_;  // null once the stream has ended
  ConnectionInfo info_;
  uint64_t stream_id_;
  uint32_t buffer_limit_;
  std::vector<std::shared_ptr<FilterSlot>> slots_;
  DirState dirs_[2];
  std::unique_ptr<Router> router_;
  bool route_cached_ = false;
  const RouteEntry* route_ = nullptr;
  const VirtualHostEntry* vhost_ = nullptr;
  bool response_started_ = false;  // headers written downstream
  bool ended_ = false;
  bool filters_destroyed_ = false;
  uint32_t high_watermark_count_ = 0;  // Envoy's filter-manager high watermark count
  int decoding_depth_ = 0;             // request hooks running (Envoy's IsDecodingMask)
  std::unique_ptr<PreparedReply> prepared_reply_;
  std::string protocol_ = "HTTP/1.1";
  std::deque<std::string> hook_scratch_;
};

// Marks a module hook of `stream` as running: callbacks check it, stream teardown waits for it, and
// attribute values computed during it stay valid until the outermost one returns.
class HookScope {
 public:
  explicit HookScope(ActiveStream& stream) : stream_(stream) { stream_.enterHook(); }
  ~HookScope() { stream_.leaveHook(); }
  HookScope(const HookScope&) = delete;
  HookScope& operator=(const HookScope&) = delete;

 private:
  ActiveStream& stream_;
};

// Monotonic milliseconds.
uint64_t monotonicMs();

// Depth of module hooks running on this thread (callbacks outside any hook are reported).
extern thread_local int tls_hook_depth;

// Worker thread. Tracks live filter pointers so callbacks can reject stale or foreign ones
// (implemented with the ABI callbacks).
void registerSlot(Worker& worker, const FilterSlot* slot);
void unregisterSlot(Worker& worker, const FilterSlot* slot);

}  // namespace devhost
