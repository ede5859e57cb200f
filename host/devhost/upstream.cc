#include "upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <algorithm>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "http1.h"
#include "socket_read.h"
#include "log.h"
#include "server.h"

namespace devhost {

namespace {
// Envoy's default per_connection_buffer_limit_bytes of a cluster (the dev host's clusters do not set one).
constexpr size_t kUpstreamBufferLimitBytes = 1024 * 1024;
}  // namespace

namespace {
http_parser_settings makeSettings();
const http_parser_settings kResponseSettings = makeSettings();
}  // namespace

UpstreamConnection::UpstreamConnection(UpstreamPool& pool, size_t endpoint) : pool_(pool), endpoint_(endpoint) {
  resetParser();
}

UpstreamConnection::~UpstreamConnection() {
  if (connect_timer_) event_free(connect_timer_);
  if (resume_event_) event_free(resume_event_);
  if (bev_) bufferevent_free(bev_);
}

void UpstreamConnection::resetParser() {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  headers_.reset();
  trailers_.reset();
  field_.clear();
  value_.clear();
  in_value_ = false;
  headers_done_ = false;
  pending_body_.clear();
}

void UpstreamConnection::connect() {
  const auto& endpoint = pool_.cluster().spec.endpoints[endpoint_];
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons(endpoint.port);
  if (inet_pton(AF_INET, endpoint.address.c_str(), &addr.sin_addr) != 1) {
    closed_ = true;
    if (owner_) owner_->onPoolFailure("remote connection failure", "invalid endpoint address " + endpoint.address);
    return;
  }
  bev_ = bufferevent_socket_new(pool_.worker().dispatcher().base(), -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, &UpstreamConnection::readCb, &UpstreamConnection::writeCb, &UpstreamConnection::eventCb, this);
  // The write callback fires when the request bytes drain to half the limit (the low watermark).
  bufferevent_setwatermark(bev_, EV_WRITE, kUpstreamBufferLimitBytes / 2, 0);
  pool_.cluster().upstream_cx_total->fetch_add(1);
  pool_.cluster().upstream_cx_active->fetch_add(1);
  connect_timer_ = evtimer_new(pool_.worker().dispatcher().base(), &UpstreamConnection::connectTimeoutCb, this);
  resume_event_ = evtimer_new(pool_.worker().dispatcher().base(), &UpstreamConnection::resumeCb, this);
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(pool_.cluster().spec.connect_timeout_ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((pool_.cluster().spec.connect_timeout_ms % 1000) * 1000);
  evtimer_add(connect_timer_, &tv);
  if (bufferevent_socket_connect(bev_, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    onEvent(BEV_EVENT_ERROR);
  }
}

void UpstreamConnection::connectTimeoutCb(int, short, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (self->connected_ || self->closed_) return;
  UpstreamCallbacks* owner = self->owner_;
  self->owner_ = nullptr;
  self->pool_.cluster().upstream_cx_connect_fail->fetch_add(1);
  self->close();
  if (owner) owner->onPoolFailure("connection timeout", "");
}

void UpstreamConnection::onConnected() {
  connected_ = true;
  if (connect_timer_) evtimer_del(connect_timer_);
  int fd = bufferevent_getfd(bev_);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  if (owner_) owner_->onPoolReady(*this);
}

void UpstreamConnection::readCb(bufferevent* bev, void* arg) {
  readHeldBytes(bev, kUpstreamBufferLimitBytes);
  static_cast<UpstreamConnection*>(arg)->onRead();
}

// Like Envoy's upstream connection: over its buffer limit the router read-disables the downstream
// (onDecoderFilterAboveWriteBufferHighWatermark), so a client faster than the upstream does not grow
// the proxy's memory without bound.
void UpstreamConnection::checkWriteWatermark() {
  if (closed_ || write_above_high_ || owner_ == nullptr) return;
  if (evbuffer_get_length(bufferevent_get_output(bev_)) <= kUpstreamBufferLimitBytes) return;
  write_above_high_ = true;
  owner_->onUpstreamWriteAboveHighWatermark();
}

void UpstreamConnection::writeCb(bufferevent*, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (!self->write_above_high_) return;
  self->write_above_high_ = false;
  if (self->owner_) self->owner_->onUpstreamWriteBelowLowWatermark();
}

void UpstreamConnection::resumeCb(int, short, void* arg) {
  auto* self = static_cast<UpstreamConnection*>(arg);
  if (!self->closed_ && self->read_disable_count_ == 0) self->onRead();
}

void UpstreamConnection::eventCb(bufferevent*, short what, void* arg) {
  static_cast<UpstreamConnection*>(arg)->onEvent(what);
}

void UpstreamConnection::onEvent(short what) {
  if (closed_) return;
  if (what & BEV_EVENT_CONNECTED) {
    onConnected();
    return;
  }
  if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
  int err = EVUTIL_SOCKET_ERROR();
  if (!connected_) {
    UpstreamCallbacks* owner = owner_;
    owner_ = nullptr;
    pool_.cluster().upstream_cx_connect_fail->fetch_add(1);
    close();
    if (owner) {
      owner->onPoolFailure("remote connection failure",
                           std::string("delayed connect error: ") + (err ? strerror(err) : "connection closed"));
    }
    return;
  }
  // A close-delimited response ends at EOF.
  if ((what & BEV_EVENT_EOF) && owner_ && headers_done_ && !response_complete_) {
    dispatching_ = true;
    http_parser_execute(&parser_, &kResponseSettings, nullptr, 0);
    dispatching_ = false;
    if (release_pending_) {
      release_pending_ = false;
      close();  // the server closed it: not reusable
      return;
    }
  }
  UpstreamCallbacks* owner = owner_;
  bool complete = response_complete_;
  owner_ = nullptr;
  close();
  if (owner && !complete) owner->onUpstreamReset("connection termination");
}

void UpstreamConnection::onRead() {
  dispatching_ = true;
  dispatch();
  dispatching_ = false;
  if (release_pending_ && !closed_) {
    release_pending_ = false;
    makeIdle();
  }
}

void UpstreamConnection::dispatch() {
  evbuffer* input = bufferevent_get_input(bev_);
  while (!closed_ && evbuffer_get_length(input) > 0) {
    if (!owner_ || response_complete_) {
      // Bytes with no request waiting: the server is misbehaving; drop the connection.
      UpstreamCallbacks* owner = owner_;
      owner_ = nullptr;
      close();
      (void)owner;
      return;
    }
    size_t length = evbuffer_get_contiguous_space(input);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ssize_t>(length)));
    size_t parsed = http_parser_execute(&parser_, &kResponseSettings, data, length);
    if (closed_) return;
    evbuffer_drain(input, parsed);
    enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) break;
    if (err != HPE_OK) {
      DH_LOG(Upstream, Debug, "upstream protocol error: %s", http_errno_description(err));
      UpstreamCallbacks* owner = owner_;
      owner_ = nullptr;
      close();
      if (owner) owner->onUpstreamReset("protocol error");
      return;
    }
  }
  if (!closed_ && owner_ && headers_done_ && !response_complete_ && !pending_body_.empty()) flushBody(false);
}

void UpstreamConnection::flushBody(bool end_stream) {
  if (!owner_) return;
  owner_->onResponseData(pending_body_, end_stream);
  pending_body_.clear();
}

void UpstreamConnection::commitHeader() {
  if (field_.empty()) return;
  HeaderMap* target = headers_done_ ? trailers_.get() : headers_.get();
  if (target) target->add(field_, value_);
  field_.clear();
  value_.clear();
  in_value_ = false;
}

int UpstreamConnection::onMessageBegin(http_parser* p) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  self->headers_ = std::make_unique<HeaderMap>(HeaderMap::Kind::ResponseHeaders);
  return 0;
}

int UpstreamConnection::onStatus(http_parser*, const char*, size_t) { return 0; }

int UpstreamConnection::onHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  if (self->in_value_) self->commitHeader();
  // Trailer fields: kept only with the cluster's enable_trailers, else dropped as Envoy's codec does.
  if (self->headers_done_ && !self->trailers_ && self->pool_.cluster().spec.http1_enable_trailers) {
    self->trailers_ = std::make_unique<HeaderMap>(HeaderMap::Kind::ResponseTrailers);
  }
  self->field_.append(at, len);
  return 0;
}

int UpstreamConnection::onHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  self->in_value_ = true;
  self->value_.append(at, len);
  return 0;
}

int UpstreamConnection::onHeadersComplete(http_parser* p) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  self->commitHeader();
  self->headers_done_ = true;
  self->headers_->set(":status", std::to_string(p->status_code));
  self->keep_alive_ = http_should_keep_alive(p) != 0;
  bool no_body = self->head_request_ || p->status_code == 204 || p->status_code == 304 ||
                 (p->status_code >= 100 && p->status_code < 200) ||
                 (!(p->flags & F_CHUNKED) && p->content_length == 0);
  if (p->status_code >= 100 && p->status_code < 200) return 0;  // interim response: wait for the real one
  if (no_body) {
    self->response_complete_ = true;
    UpstreamCallbacks* owner = self->owner_;
    if (owner) owner->onResponseHeaders(std::move(self->headers_), true);
    if (!self->closed_) http_parser_pause(p, 1);
    return self->head_request_ ? 1 : 0;
  }
  if (self->owner_) self->owner_->onResponseHeaders(std::move(self->headers_), false);
  if (self->closed_) http_parser_pause(p, 1);
  return 0;
}

int UpstreamConnection::onBody(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  self->pending_body_.append(std::string_view(at, len));
  return 0;
}

int UpstreamConnection::onMessageComplete(http_parser* p) {
  auto* self = static_cast<UpstreamConnection*>(p->data);
  if (self->response_complete_) return 0;  // header-only response, already delivered
  if (self->in_value_) self->commitHeader();
  self->response_complete_ = true;
  UpstreamCallbacks* owner = self->owner_;
  if (owner) {
    if (!self->pending_body_.empty()) self->flushBody(false);
    if (self->owner_ && self->trailers_) {
      self->owner_->onResponseTrailers(std::move(self->trailers_));
    } else if (self->owner_) {
      Buffer empty;
      self->owner_->onResponseData(empty, true);
    }
  }
  if (!self->closed_) http_parser_pause(p, 1);
  return 0;
}

void UpstreamConnection::encodeHeaders(const HeaderMap& headers, bool end_stream) {
  const std::string* method = headers.get(":method");
  const std::string* path = headers.get(":path");
  const std::string* authority = headers.get(":authority");
  head_request_ = method && *method == "HEAD";
  std::string out = (method ? *method : "GET") + " " + (path ? *path : "/") + " HTTP/1.1\r\n";
  if (authority) out += "host: " + *authority + "\r\n";
  chunked_request_ = false;
  bool has_length = headers.get("content-length") != nullptr;
  HeaderMap extra(HeaderMap::Kind::RequestHeaders);
  if (!has_length) {
    if (end_stream) {
      if (!method || (*method != "GET" && *method != "HEAD")) extra.add("content-length", "0");
    } else {
      chunked_request_ = true;
      extra.add("transfer-encoding", "chunked");
    }
  }
  std::string lines;
  appendHeaderLines(lines, headers);
  lines.resize(lines.size() - 2);  // drop the blank line; extra headers follow
  out += lines;
  appendHeaderLines(out, extra);
  request_complete_ = end_stream;
  bufferevent_write(bev_, out.data(), out.size());
}

void UpstreamConnection::encodeData(Buffer& data, bool end_stream) {
  if (closed_) return;
  evbuffer* output = bufferevent_get_output(bev_);
  writeBody(output, data, chunked_request_);
  if (end_stream) {
    request_complete_ = true;
    if (chunked_request_) writeChunkedEnd(output, nullptr);
  }
  checkWriteWatermark();
}

void UpstreamConnection::encodeTrailers(const HeaderMap& trailers) {
  if (closed_) return;
  request_complete_ = true;
  // Without the cluster's enable_trailers Envoy's codec ends the chunked body and drops the trailers.
  const bool keep = pool_.cluster().spec.http1_enable_trailers;
  if (chunked_request_) writeChunkedEnd(bufferevent_get_output(bev_), keep ? &trailers : nullptr);
}

void UpstreamConnection::release() {
  owner_ = nullptr;
  if (closed_) return;
  if (connected_ && request_complete_ && response_complete_ && keep_alive_ && !pool_.worker().shutting_down) {
    if (dispatching_) {
      release_pending_ = true;  // the parser is still on the stack
    } else {
      makeIdle();
    }
    return;
  }
  close();
}

void UpstreamConnection::readDisable(bool disable) {
  if (closed_ || bev_ == nullptr) return;
  if (disable) {
    if (read_disable_count_++ == 0) bufferevent_disable(bev_, EV_READ);
    return;
  }
  if (read_disable_count_ == 0 || --read_disable_count_ > 0) return;
  bufferevent_enable(bev_, EV_READ);
  // What arrived before reading stopped is dispatched from the event loop, not inside this call.
  if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0 && resume_event_) event_active(resume_event_, EV_TIMEOUT, 0);
}

void UpstreamConnection::makeIdle() {
  if (read_disable_count_ > 0) {
    read_disable_count_ = 0;
    bufferevent_enable(bev_, EV_READ);
  }
  resetParser();
  request_complete_ = response_complete_ = false;
  pool_.onIdle(this);
}

void UpstreamConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (bev_) {
    bufferevent_disable(bev_, EV_READ | EV_WRITE);
    bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
    pool_.cluster().upstream_cx_active->fetch_sub(1);
  }
  if (connect_timer_) evtimer_del(connect_timer_);
  if (resume_event_) event_del(resume_event_);
  pool_.onClosed(this);
}

UpstreamPool::~UpstreamPool() {
  std::vector<UpstreamConnection*> all(all_.begin(), all_.end());
  for (UpstreamConnection* c : all) {
    c->owner_ = nullptr;
    c->close();
  }
}

UpstreamConnection* UpstreamPool::newStream(UpstreamCallbacks& callbacks) {
  const auto& endpoints = cluster_.spec.endpoints;
  if (endpoints.empty()) {
    callbacks.onPoolFailure("no healthy upstream", "");
    return nullptr;
  }
  size_t endpoint = const_cast<Cluster&>(cluster_).next_endpoint.fetch_add(1) % endpoints.size();
  // Reuse an idle connection to any endpoint before opening a new one (HTTP/1.1 keep-alive).
  if (!idle_.empty()) {
    UpstreamConnection* connection = idle_.back();
    idle_.pop_back();
    connection->owner_ = &callbacks;
    connection->write_above_high_ = false;  // a new exchange: its owner hears of the watermark afresh
    callbacks.onPoolReady(*connection);
    return connection;
  }
  auto* connection = new UpstreamConnection(*this, endpoint);
  all_.insert(connection);
  connection->owner_ = &callbacks;
  connection->connect();
  return connection->closed_ ? nullptr : connection;
}

void UpstreamPool::onIdle(UpstreamConnection* connection) { idle_.push_back(connection); }

void UpstreamPool::onClosed(UpstreamConnection* connection) {
  idle_.erase(std::remove(idle_.begin(), idle_.end(), connection), idle_.end());
  if (all_.erase(connection)) worker_.dispatcher().deferredDelete(std::unique_ptr<DeferredDeletable>(connection));
}

namespace {
http_parser_settings makeSettings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &UpstreamConnection::onMessageBegin;
  s.on_status = &UpstreamConnection::onStatus;
  s.on_header_field = &UpstreamConnection::onHeaderField;
  s.on_header_value = &UpstreamConnection::onHeaderValue;
  s.on_headers_complete = &UpstreamConnection::onHeadersComplete;
  s.on_body = &UpstreamConnection::onBody;
  s.on_message_complete = &UpstreamConnection::onMessageComplete;
  return s;
}
}  // namespace

}  // namespace devhost
