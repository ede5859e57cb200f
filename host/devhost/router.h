// The router: the terminal step of the decode path, like envoy.filters.http.router. Picks the
// route, answers direct responses and proxies to a cluster over HTTP/1.1.
#pragma once

#include <memory>
#include <string>

#include "buffer.h"
#include "dispatcher.h"
#include "header_map.h"
#include "upstream.h"

namespace devhost {

class ActiveStream;
struct RouteEntry;

class Router : public UpstreamCallbacks {
 public:
  explicit Router(ActiveStream& stream);
  ~Router() override;

  // Worker thread: the request after every decoder filter.
  void decodeHeaders(HeaderMap& headers, bool end_stream);
  void decodeData(Buffer& data, bool end_stream);
  void decodeTrailers(HeaderMap& trailers);
  // The stream no longer wants the upstream: detach, closing the connection if mid-exchange.
  void reset();
  // Worker thread: the stream's high/low watermark callbacks (Envoy's router registers for them and
  // read-disables its upstream request while the downstream side is backed up).
  void onAboveWriteBufferHighWatermark();
  void onBelowWriteBufferLowWatermark();

  // UpstreamCallbacks
  void onPoolReady(UpstreamConnection& connection) override;
  void onPoolFailure(const std::string& reason, const std::string& transport_failure) override;
  void onResponseHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) override;
  void onResponseData(Buffer& data, bool end_stream) override;
  void onResponseTrailers(std::unique_ptr<HeaderMap> trailers) override;
  void onUpstreamReset(const std::string& reason) override;
  void onUpstreamWriteAboveHighWatermark() override;
  void onUpstreamWriteBelowLowWatermark() override;

 private:
  void onRequestComplete();
  void onTimeout();
  void finish();
  void upstreamFailure(const std::string& reason, const std::string& transport_failure);

  ActiveStream& stream_;
  const RouteEntry* route_ = nullptr;
  UpstreamConnection* connection_ = nullptr;
  bool connecting_ = false;
  bool request_complete_ = false;
  bool response_started_ = false;
  bool response_complete_ = false;
  bool done_ = false;
  // What arrived before the connection was ready.
  std::unique_ptr<HeaderMap> pending_headers_;
  bool pending_headers_end_ = false;
  Buffer pending_body_;
  bool pending_body_end_ = false;
  std::unique_ptr<HeaderMap> pending_trailers_;
  std::unique_ptr<Timer> timeout_;
  uint64_t upstream_start_ms_ = 0;
  int upstream_read_disabled_ = 0;  // raised watermarks, applied to the connection once it exists
  bool downstream_paused_ = false;  // the request waits above the upstream's buffer limit: downstream reads stop
};

}  // namespace devhost
