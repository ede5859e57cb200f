#include "router.h"

#include "log.h"
#include "server.h"
#include "stream.h"

namespace devhost {

Router::Router(ActiveStream& stream) : stream_(stream) {}

Router::~Router() { reset(); }

void Router::decodeHeaders(HeaderMap& headers, bool end_stream) {
  route_ = stream_.route();
  if (route_ == nullptr) {
    done_ = true;
    stream_.sendLocalReply(404, "", {}, "route_not_found", nullptr);
    return;
  }
  if (route_->spec.has_direct_response) {
    done_ = true;
    stream_.sendLocalReply(route_->spec.direct_status, route_->spec.direct_body, {}, "direct_response", nullptr);
    return;
  }
  const Cluster* cluster = route_->cluster;
  if (cluster == nullptr) {
    done_ = true;
    stream_.sendLocalReply(503, "", {}, "cluster_not_found", nullptr);
    return;
  }
  if (cluster->spec.endpoints.empty()) {
    done_ = true;
    stream_.sendLocalReply(503, "no healthy upstream", {}, "no_healthy_upstream", nullptr);
    return;
  }
  pending_headers_ = std::make_unique<HeaderMap>(headers);
  if (route_->spec.prefix_rewrite && route_->spec.match == RouteSpec::Match::Prefix) {
    if (const std::string* path = pending_headers_->get(":path")) {
      pending_headers_->set(":path", *route_->spec.prefix_rewrite + path->substr(route_->spec.match_value.size()));
    }
  }
  if (route_->spec.timeout_ms > 0) {
    pending_headers_->set("x-envoy-expected-rq-timeout-ms", std::to_string(route_->spec.timeout_ms));
  }
  pending_headers_end_ = end_stream;
  cluster->upstream_rq_total->fetch_add(1, std::memory_order_relaxed);
  cluster->upstream_rq_active->fetch_add(1, std::memory_order_relaxed);
  upstream_start_ms_ = monotonicMs();
  connecting_ = true;
  UpstreamConnection* connection = stream_.worker().pool(cluster).newStream(*this);
  if (connecting_ && connection) connection_ = connection;
  if (end_stream) onRequestComplete();
}

void Router::onAboveWriteBufferHighWatermark() {
  upstream_read_disabled_++;
  if (connection_ && !connecting_) connection_->readDisable(true);
}

void Router::onBelowWriteBufferLowWatermark() {
  if (upstream_read_disabled_ == 0) return;
  upstream_read_disabled_--;
  if (connection_ && !connecting_) connection_->readDisable(false);
}

void Router::onPoolReady(UpstreamConnection& connection) {
  connecting_ = false;
  connection_ = &connection;
  for (int i = 0; i < upstream_read_disabled_; i++) connection.readDisable(true);
  connection.encodeHeaders(*pending_headers_, pending_headers_end_);
  pending_headers_.reset();
  if (!pending_body_.empty() || pending_body_end_) connection.encodeData(pending_body_, pending_body_end_);
  if (pending_trailers_) connection.encodeTrailers(*pending_trailers_);
  pending_trailers_.reset();
}

void Router::onPoolFailure(const std::string& reason, const std::string& transport_failure) {
  connecting_ = false;
  connection_ = nullptr;
  if (reason == "no healthy upstream") {
    finish();
    stream_.sendLocalReply(503, "no healthy upstream", {}, "no_healthy_upstream", nullptr);
    return;
  }
  upstreamFailure(reason, transport_failure);
}

void Router::upstreamFailure(const std::string& reason, const std::string& transport_failure) {
  finish();
  if (response_started_) {
    stream_.resetStream("upstream_reset_after_response_started{" + reason + "}");
    return;
  }
  std::string body = "upstream connect error or disconnect/reset before headers. reset reason: " + reason;
  std::string details = reason;
  if (!transport_failure.empty()) {
    body += ", transport failure reason: " + transport_failure;
    details += "|" + transport_failure;
  }
  for (char& c : details) {
    if (c == ' ') c = '_';
  }
  stream_.sendLocalReply(503, body, {}, "upstream_reset_before_response_started{" + details + "}", nullptr);
}

void Router::decodeData(Buffer& data, bool end_stream) {
  if (done_) {
    data.clear();
    return;
  }
  if (connection_ && !connecting_) {
    connection_->encodeData(data, end_stream);
  } else {
    pending_body_.move(data);
    pending_body_end_ = end_stream;
  }
  if (end_stream) onRequestComplete();
}

void Router::decodeTrailers(HeaderMap& trailers) {
  if (done_) return;
  if (connection_ && !connecting_) {
    connection_->encodeTrailers(trailers);
  } else {
    pending_trailers_ = std::make_unique<HeaderMap>(trailers);
  }
  onRequestComplete();
}

void Router::onRequestComplete() {
  request_complete_ = true;
  // Envoy's route timeout runs from the end of the downstream request.
  if (route_ && route_->spec.timeout_ms > 0 && !done_ && !response_complete_) {
    timeout_ = std::make_unique<Timer>(stream_.worker().dispatcher(), [this] { onTimeout(); });
    timeout_->enable(route_->spec.timeout_ms);
  }
}

void Router::onTimeout() {
  if (done_) return;
  if (route_ && route_->cluster) route_->cluster->upstream_rq_timeout->fetch_add(1);
  bool started = response_started_;
  finish();
  if (started) {
    stream_.resetStream("upstream_response_timeout");
  } else {
    stream_.sendLocalReply(504, "upstream request timeout", {}, "upstream_response_timeout", nullptr);
  }
}

void Router::onResponseHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) {
  if (done_) return;
  response_started_ = true;
  headers->set("x-envoy-upstream-service-time", std::to_string(monotonicMs() - upstream_start_ms_));
  if (end_stream) {
    response_complete_ = true;
    finish();
  }
  stream_.encodeHeaders(std::move(headers), end_stream);
}

void Router::onResponseData(Buffer& data, bool end_stream) {
  if (done_) return;
  if (end_stream) {
    response_complete_ = true;
    finish();
  }
  stream_.encodeData(data, end_stream);
}

void Router::onResponseTrailers(std::unique_ptr<HeaderMap> trailers) {
  if (done_) return;
  response_complete_ = true;
  finish();
  stream_.encodeTrailers(std::move(trailers));
}

void Router::onUpstreamReset(const std::string& reason) {
  if (done_) return;
  connection_ = nullptr;
  upstreamFailure(reason, "");
}

// Ends the upstream exchange: the connection goes back to the pool if it finished cleanly.
void Router::finish() {
  if (done_) return;
  done_ = true;
  timeout_.reset();
  if (route_ && route_->cluster) route_->cluster->upstream_rq_active->fetch_sub(1, std::memory_order_relaxed);
  if (connection_) {
    UpstreamConnection* connection = connection_;
    connection_ = nullptr;
    connection->release();
  }
}

void Router::onUpstreamWriteAboveHighWatermark() {
  if (downstream_paused_) return;
  downstream_paused_ = true;
  stream_.readDisableDownstream(true);
}

void Router::onUpstreamWriteBelowLowWatermark() {
  if (!downstream_paused_) return;
  downstream_paused_ = false;
  stream_.readDisableDownstream(false);
}

void Router::reset() {
  onUpstreamWriteBelowLowWatermark();  // the connection no longer holds this stream's request back
  if (done_) {
    if (connection_) {
      connection_->release();
      connection_ = nullptr;
    }
    return;
  }
  finish();
}

}  // namespace devhost
