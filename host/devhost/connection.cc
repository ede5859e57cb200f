#include "connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include <climits>
#include <cinttypes>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "http1.h"
#include "log.h"
#include "socket_read.h"

namespace devhost {

namespace {

http_parser_settings makeRequestSettings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &ServerConnection::onMessageBegin;
  s.on_url = &ServerConnection::onUrl;
  s.on_header_field = &ServerConnection::onHeaderField;
  s.on_header_value = &ServerConnection::onHeaderValue;
  s.on_headers_complete = &ServerConnection::onHeadersComplete;
  s.on_body = &ServerConnection::onBody;
  s.on_message_complete = &ServerConnection::onMessageComplete;
  return s;
}
const http_parser_settings kRequestSettings = makeRequestSettings();

std::atomic<uint64_t> g_next_connection_id{1};

}  // namespace

ServerConnection::ServerConnection(Worker& worker, ListenerEntry& listener, int fd, ConnectionInfo info)
    : worker_(worker), listener_(listener), info_(std::move(info)) {
  auto chain = listener.currentChain();
  cx_active_ = chain->hcm_stats.cx_active;
  info_.connection_id = g_next_connection_id.fetch_add(1);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  bev_ = bufferevent_socket_new(worker.dispatcher().base(), fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, &ServerConnection::readCb, &ServerConnection::writeCb, &ServerConnection::eventCb, this);
  // The write callback fires when output drains below half the buffer limit.
  bufferevent_setwatermark(bev_, EV_WRITE, listener_.spec.per_connection_buffer_limit_bytes / 2, 0);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  resume_event_ = event_new(worker.dispatcher().base(), -1, 0, &ServerConnection::resumeCb, this);
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  chain->hcm_stats.cx_total->fetch_add(1, std::memory_order_relaxed);
  cx_active_->fetch_add(1, std::memory_order_relaxed);
  worker_.connections.insert(this);
}

ServerConnection::~ServerConnection() {
  event_free(resume_event_);
  if (bev_) bufferevent_free(bev_);
}

// ---- Reading ------------------------------------------------------------------------------------

void ServerConnection::readCb(bufferevent* bev, void* arg) {
  auto* self = static_cast<ServerConnection*>(arg);
  readHeldBytes(bev, self->listener_.spec.per_connection_buffer_limit_bytes);
  self->onRead();
}

void ServerConnection::resumeCb(int, short, void* arg) { static_cast<ServerConnection*>(arg)->onRead(); }

void ServerConnection::onRead() {
  if (closed_) return;
  dispatching_ = true;
  dispatch();
  dispatching_ = false;
  // Envoy hands the body read in one dispatch to the filters as one frame.
  if (!closed_ && stream_ && headers_done_ && !message_complete_) flushBody();
}

void ServerConnection::dispatch() {
  evbuffer* input = bufferevent_get_input(bev_);
  while (!closed_ && !closing_ && evbuffer_get_length(input) > 0) {
    if (message_complete_) return;  // one request at a time; resumes when its stream ends
    size_t length = evbuffer_get_contiguous_space(input);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(input, static_cast<ssize_t>(length)));
    size_t parsed = http_parser_execute(&parser_, &kRequestSettings, data, length);
    if (closed_) return;
    evbuffer_drain(input, parsed);
    enum http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) return;
    if (err != HPE_OK) {
      sendCodecError(http_errno_description(err));
      return;
    }
  }
}

void ServerConnection::commitHeader() {
  if (field_.empty()) return;
  HeaderMap* target = headers_done_ ? trailers_.get() : headers_.get();
  if (target) target->add(field_, value_);
  field_.clear();
  value_.clear();
  in_value_ = false;
}

int ServerConnection::onMessageBegin(http_parser* p) {
  auto* self = static_cast<ServerConnection*>(p->data);
  self->headers_ = std::make_unique<HeaderMap>(HeaderMap::Kind::RequestHeaders);
  self->trailers_.reset();
  self->url_.clear();
  self->field_.clear();
  self->value_.clear();
  self->in_value_ = false;
  self->headers_done_ = false;
  self->message_complete_ = false;
  self->response_done_ = false;
  self->request_end_sent_ = false;
  self->pending_body_.clear();
  return 0;
}

int ServerConnection::onUrl(http_parser* p, const char* at, size_t len) {
  static_cast<ServerConnection*>(p->data)->url_.append(at, len);
  return 0;
}

int ServerConnection::onHeaderField(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<ServerConnection*>(p->data);
  if (self->in_value_) self->commitHeader();
  // Trailer fields: kept only with http_protocol_options.enable_trailers, else dropped as Envoy's codec does.
  if (self->headers_done_ && !self->trailers_ && self->stream_ && self->stream_->chain().spec().http1_enable_trailers) {
    self->trailers_ = std::make_unique<HeaderMap>(HeaderMap::Kind::RequestTrailers);
  }
  self->field_.append(at, len);
  return 0;
}

int ServerConnection::onHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<ServerConnection*>(p->data);
  self->in_value_ = true;
  self->value_.append(at, len);
  return 0;
}

int ServerConnection::onHeadersComplete(http_parser* p) {
  auto* self = static_cast<ServerConnection*>(p->data);
  self->commitHeader();
  self->headers_done_ = true;
  auto& headers = *self->headers_;
  // HTTP/1.1's Host is stored as :authority by the request header map, as in Envoy's.
  if (!self->setPath(headers, static_cast<http_method>(p->method))) return 0;
  headers.set(":method", http_method_str(static_cast<http_method>(p->method)));
  self->keep_alive_ = http_should_keep_alive(p) != 0;
  self->head_request_ = p->method == HTTP_HEAD;
  self->http10_ = p->http_major == 1 && p->http_minor == 0;
  const bool has_body = (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
  self->request_has_body_ = has_body;
  auto chain = self->listener_.currentChain();
  self->stream_ = std::make_unique<ActiveStream>(self->worker_, chain, *self, self->info_, self->next_stream_id_++,
                                                 self->listener_.spec.per_connection_buffer_limit_bytes);
  self->stream_->setProtocol(self->http10_ ? "HTTP/1.0" : "HTTP/1.1");
  if (self->http10_ && !chain->spec().http1_accept_http_10) {
    self->http10_ = false;  // refused: the answer is HTTP/1.1
    // Envoy's codec refuses HTTP/1.0 unless http_protocol_options.accept_http_10 is set: a 426 local
    // reply through the filter chain (created for it), and the connection closes.
    self->close_after_response_ = true;
    self->stream_->sendProtocolError(426, "Upgrade Required", "low_version");
    http_parser_pause(p, 1);
    return 0;
  }
  self->request_end_sent_ = !has_body;
  self->stream_->decodeHeaders(std::move(self->headers_), !has_body);
  if (self->closed_ || self->closing_) http_parser_pause(p, 1);
  return 0;
}

bool ServerConnection::setPath(HeaderMap& headers, http_method method) {
  // Origin form (and OPTIONS *) goes to :path as it is.
  if (method == HTTP_CONNECT || (!url_.empty() && (url_[0] == '/' || (method == HTTP_OPTIONS && url_[0] == '*')))) {
    headers.set(":path", url_);
    return true;
  }
  // Absolute form: like Envoy's handlePath (RFC 7230 5.7), the target's host replaces any Host header,
  // its scheme becomes :scheme and its path (with query) :path.
  struct http_parser_url parsed;
  http_parser_url_init(&parsed);
  if (http_parser_parse_url(url_.data(), url_.size(), 0, &parsed) != 0 || !(parsed.field_set & (1 << UF_SCHEMA)) ||
      !(parsed.field_set & (1 << UF_HOST))) {
    sendCodecError("invalid url in request line");
    return false;
  }
  auto field = [&](int f) { return url_.substr(parsed.field_data[f].off, parsed.field_data[f].len); };
  const std::string scheme = HeaderMap::lower(field(UF_SCHEMA));
  if (scheme != "http" && scheme != "https") {
    sendCodecError("invalid scheme");
    return false;
  }
  std::string authority = field(UF_HOST);
  if (parsed.field_set & (1 << UF_PORT)) authority += ":" + field(UF_PORT);
  std::string path = (parsed.field_set & (1 << UF_PATH)) ? field(UF_PATH) : "/";
  if (parsed.field_set & (1 << UF_QUERY)) path += "?" + field(UF_QUERY);
  headers.set(":authority", authority);
  headers.set(":scheme", scheme);
  headers.set(":path", path);
  return true;
}

void ServerConnection::readDisable(bool disable) {
  if (closed_) return;
  if (disable) {
    if (read_disable_count_++ == 0) bufferevent_disable(bev_, EV_READ);
    return;
  }
  if (read_disable_count_ == 0 || --read_disable_count_ > 0) return;
  bufferevent_enable(bev_, EV_READ);
  if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) event_active(resume_event_, 0, 0);
}

int ServerConnection::onBody(http_parser* p, const char* at, size_t len) {
  auto* self = static_cast<ServerConnection*>(p->data);
  self->pending_body_.append(std::string_view(at, len));
  return 0;
}

int ServerConnection::onMessageComplete(http_parser* p) {
  auto* self = static_cast<ServerConnection*>(p->data);
  if (self->in_value_) self->commitHeader();
  if (!self->stream_ && self->response_done_) {
    // A bodiless request answered while its headers were parsed: ready for the next one.
    self->message_complete_ = false;
    self->headers_done_ = false;
    return 0;
  }
  self->message_complete_ = true;
  http_parser_pause(p, 1);  // the next pipelined request waits for this stream to end
  if (!self->stream_ || self->stream_->ended() || !self->request_has_body_) return 0;
  self->flushBody();
  if (!self->stream_ || self->stream_->ended()) return 0;
  self->request_end_sent_ = true;
  if (self->trailers_) {
    self->stream_->decodeTrailers(std::move(self->trailers_));
  } else {
    // Envoy ends a request body with an empty end-of-stream frame.
    Buffer empty;
    self->stream_->decodeData(empty, true);
  }
  return 0;
}

void ServerConnection::flushBody() {
  if (!stream_ || pending_body_.empty()) return;
  Buffer frame;
  frame.move(pending_body_);
  stream_->decodeData(frame, false);
}

void ServerConnection::sendCodecError(const char* description) {
  DH_LOG(Connection, Debug, "[C%" PRIu64 "] HTTP/1 codec error: %s", info_.connection_id, description);
  if (stream_ && stream_->responseStarted()) {
    close();
    return;
  }
  if (stream_) {
    stream_->onDownstreamReset();
  }
  static const char kReply[] =
      "HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nBad Request";
  bufferevent_write(bev_, kReply, sizeof(kReply) - 1);
  closing_ = true;
  if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
}

// ---- Writing ------------------------------------------------------------------------------------

void ServerConnection::encodeHeaders(HeaderMap& headers, bool end_stream) {
  if (closed_) return;
  int code = 200;
  if (const std::string* status = headers.get(":status")) code = atoi(status->c_str());
  // A response that starts before the request has ended closes the HTTP/1 connection (Envoy's HCM sets
  // drain_state_ Closing and adds connection: close).
  if (!keep_alive_ || draining_ || worker_.shutting_down || !request_end_sent_) close_after_response_ = true;
  // An accepted HTTP/1.0 request gets an HTTP/1.0 status line, as from Envoy's codec.
  std::string out = std::string(http10_ ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(code) + " " + reasonPhrase(code) + "\r\n";
  HeaderMap extra(HeaderMap::Kind::ResponseHeaders);
  chunked_response_ = false;
  const bool bodiless_status = code == 204 || code == 304 || (code >= 100 && code < 200);
  if (!headers.get("content-length") && !bodiless_status) {
    if (end_stream) {
      // Envoy's codec adds it to a header-only response, but not to one answering HEAD.
      if (!head_request_) extra.add("content-length", "0");
    } else if (parser_.http_major == 1 && parser_.http_minor >= 1) {
      chunked_response_ = true;
      extra.add("transfer-encoding", "chunked");
    } else {
      close_after_response_ = true;  // HTTP/1.0: the body ends at close
    }
  }
  if (close_after_response_) extra.add("connection", "close");
  std::string lines;
  appendHeaderLines(lines, headers);
  lines.resize(lines.size() - 2);
  out += lines;
  appendHeaderLines(out, extra);
  bufferevent_write(bev_, out.data(), out.size());
  if (head_request_) chunked_response_ = false;
  checkWatermark();
}

void ServerConnection::encodeData(Buffer& data, bool end_stream) {
  if (closed_) return;
  evbuffer* output = bufferevent_get_output(bev_);
  if (head_request_) {
    data.clear();
  } else {
    writeBody(output, data, chunked_response_);
    if (end_stream && chunked_response_) writeChunkedEnd(output, nullptr);
  }
  checkWatermark();
}

void ServerConnection::encodeTrailers(HeaderMap& trailers) {
  if (closed_) return;
  // Without enable_trailers Envoy's codec ends the chunked body and drops the trailers.
  const bool keep = stream_ && stream_->chain().spec().http1_enable_trailers;
  if (chunked_response_) writeChunkedEnd(bufferevent_get_output(bev_), keep ? &trailers : nullptr);
  checkWatermark();
}

void ServerConnection::checkWatermark() {
  size_t queued = evbuffer_get_length(bufferevent_get_output(bev_));
  if (!above_watermark_ && queued > listener_.spec.per_connection_buffer_limit_bytes) {
    above_watermark_ = true;
    if (stream_) stream_->onDownstreamWatermark(true);
  }
}

void ServerConnection::writeCb(bufferevent*, void* arg) {
  auto* self = static_cast<ServerConnection*>(arg);
  if (self->above_watermark_) {
    self->above_watermark_ = false;
    if (self->stream_) self->stream_->onDownstreamWatermark(false);
  }
  if (self->closing_ && evbuffer_get_length(bufferevent_get_output(self->bev_)) == 0) self->close();
}

void ServerConnection::onStreamEnded(bool reset) {
  if (stream_) worker_.dispatcher().deferredDelete(std::move(stream_));
  if (closed_) return;
  if (reset) {
    // A reset HTTP/1.1 stream takes its connection with it.
    close();
    return;
  }
  response_done_ = true;
  const bool request_done = message_complete_ || (headers_done_ && !request_has_body_);
  if (!request_done || close_after_response_ || !keep_alive_ || draining_) {
    // The request was not read to its end (or the client asked, or we drain): close once flushed.
    closing_ = true;
    if (dispatching_) http_parser_pause(&parser_, 1);
    if (evbuffer_get_length(bufferevent_get_output(bev_)) == 0) close();
    return;
  }
  if (!message_complete_) return;  // still inside the parser; onMessageComplete readies the next request
  // Ready for the next request on this connection.
  http_parser_pause(&parser_, 0);
  message_complete_ = false;
  headers_done_ = false;
  if (evbuffer_get_length(bufferevent_get_input(bev_)) > 0) event_active(resume_event_, 0, 0);
}

void ServerConnection::eventCb(bufferevent*, short what, void* arg) {
  auto* self = static_cast<ServerConnection*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    // The HTTP connection manager does not enable half-close: Envoy turns a FIN into a remote close
    // ("remote early close" while reads are disabled after a complete request), which resets the
    // active stream even if its request was complete.
    self->close();
  }
}

void ServerConnection::drain() {
  draining_ = true;
  if (!stream_ && !closed_) close();
}

void ServerConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (stream_) {
    ActiveStream* stream = stream_.get();
    stream->onDownstreamReset();  // ends the stream; onStreamEnded hands it to deferred deletion
    if (stream_) worker_.dispatcher().deferredDelete(std::move(stream_));
  }
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  bufferevent_setcb(bev_, nullptr, nullptr, nullptr, nullptr);
  event_del(resume_event_);
  cx_active_->fetch_sub(1, std::memory_order_relaxed);
  worker_.connections.erase(this);
  worker_.dispatcher().deferredDelete(std::unique_ptr<DeferredDeletable>(this));
}

// ---- Listening ----------------------------------------------------------------------------------

namespace {

std::string ipString(const struct sockaddr_storage& addr, uint32_t* port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const struct sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    *port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const struct sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    *port = ntohs(in6->sin6_port);
  }
  return text;
}

void onAccept(evconnlistener*, evutil_socket_t fd, struct sockaddr* address, int, void* arg) {
  auto* ctx = static_cast<AcceptContext*>(arg);
  if (ctx->worker->shutting_down) {
    ::close(fd);
    return;
  }
  ConnectionInfo info;
  struct sockaddr_storage remote;
  memcpy(&remote, address, address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  info.remote_ip = ipString(remote, &info.remote_port);
  struct sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  getsockname(fd, reinterpret_cast<struct sockaddr*>(&local), &local_len);
  info.local_ip = ipString(local, &info.local_port);
  new ServerConnection(*ctx->worker, *ctx->listener, fd, std::move(info));  // owned by the worker's set
}

}  // namespace

void startWorkerListeners(Worker& worker) {
  for (auto& listener : Server::instance().listeners) {
    int fd = listener->fds[worker.index()];
    auto* ctx = new AcceptContext{&worker, listener.get()};
    evconnlistener* l = evconnlistener_new(worker.dispatcher().base(), &onAccept, ctx,
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1, fd);
    worker.listeners.push_back(l);
    worker.accept_contexts.emplace_back(ctx);
  }
}

void stopWorkerListeners(Worker& worker) {
  for (evconnlistener* l : worker.listeners) evconnlistener_free(l);
  worker.listeners.clear();
}

}  // namespace devhost
