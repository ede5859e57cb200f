// Upstream HTTP/1.1 connections with reuse: one pool per worker per cluster.
#pragma once

#include <http_parser.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "buffer.h"
#include "dispatcher.h"
#include "header_map.h"

struct bufferevent;

namespace devhost {

class UpstreamPool;
class UpstreamConnection;
struct Cluster;
class Worker;

// What the pool and the connection report to the request using them. Worker thread.
class UpstreamCallbacks {
 public:
  virtual ~UpstreamCallbacks() = default;
  virtual void onPoolReady(UpstreamConnection& connection) = 0;
  virtual void onPoolFailure(const std::string& reason, const std::string& transport_failure) = 0;
  virtual void onResponseHeaders(std::unique_ptr<HeaderMap> headers, bool end_stream) = 0;
  virtual void onResponseData(Buffer& data, bool end_stream) = 0;
  virtual void onResponseTrailers(std::unique_ptr<HeaderMap> trailers) = 0;
  // The connection broke before the response completed.
  virtual void onUpstreamReset(const std::string& reason) = 0;
  // The request bytes waiting to be written to the upstream crossed the connection's buffer limit
  // (above), then drained to half of it (below). Worker thread.
  virtual void onUpstreamWriteAboveHighWatermark() {}
  virtual void onUpstreamWriteBelowLowWatermark() {}
};

class UpstreamConnection : public DeferredDeletable {
 public:
  UpstreamConnection(UpstreamPool& pool, size_t endpoint);
  ~UpstreamConnection() override;

  // Worker thread: request encoding.
  void encodeHeaders(const HeaderMap& headers, bool end_stream);
  void encodeData(Buffer& data, bool end_stream);
  void encodeTrailers(const HeaderMap& trailers);
  // The request owner lets go: reusable if the exchange finished cleanly, else closed.
  void release();
  // Flow control (refcounted): stop, then resume, reading the response; reset when the connection is reused.
  void readDisable(bool disable);
  bool responseComplete() const { return response_complete_; }

 private:
  friend class UpstreamPool;
  void connect();
  void close();
  void onConnected();
  void onRead();
  void dispatch();
  void onEvent(short what);
  static void readCb(bufferevent*, void* arg);
  static void writeCb(bufferevent*, void* arg);
  void checkWriteWatermark();
  static void eventCb(bufferevent*, short what, void* arg);
  static void connectTimeoutCb(int, short, void* arg);
  static void resumeCb(int, short, void* arg);
  void resetParser();
  void flushBody(bool end_stream);

  void makeIdle();

 public:
  // http-parser callbacks.
  static int onMessageBegin(http_parser* p);
  static int onStatus(http_parser* p, const char* at, size_t len);
  static int onHeaderField(http_parser* p, const char* at, size_t len);
  static int onHeaderValue(http_parser* p, const char* at, size_t len);
  static int onHeadersComplete(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t len);
  static int onMessageComplete(http_parser* p);

 private:
  void commitHeader();

  UpstreamPool& pool_;
  size_t endpoint_;
  bufferevent* bev_ = nullptr;
  struct event* connect_timer_ = nullptr;
  struct event* resume_event_ = nullptr;
  http_parser parser_;
  UpstreamCallbacks* owner_ = nullptr;
  bool connected_ = false;
  bool closed_ = false;
  bool write_above_high_ = false;  // the owner was told the request bytes wait above the limit
  bool request_complete_ = false;
  bool response_complete_ = false;
  bool keep_alive_ = true;
  bool chunked_request_ = false;
  bool head_request_ = false;
  bool dispatching_ = false;      // inside http_parser_execute
  bool release_pending_ = false;  // released during dispatch; becomes idle afterwards
  int read_disable_count_ = 0;
  // Parse state of the current response.
  std::unique_ptr<HeaderMap> headers_;
  std::unique_ptr<HeaderMap> trailers_;
  std::string field_, value_;
  bool in_value_ = false;
  bool headers_done_ = false;
  Buffer pending_body_;
};

class UpstreamPool {
 public:
  UpstreamPool(Worker& worker, const Cluster& cluster) : worker_(worker), cluster_(cluster) {}
  ~UpstreamPool();
  // Worker thread. Picks the next endpoint round robin; calls onPoolReady/onPoolFailure, possibly
  // before returning. Returns the connection so the caller can cancel.
  UpstreamConnection* newStream(UpstreamCallbacks& callbacks);
  Worker& worker() { return worker_; }
  const Cluster& cluster() const { return cluster_; }

 private:
  friend class UpstreamConnection;
  void onIdle(UpstreamConnection* connection);
  void onClosed(UpstreamConnection* connection);

  Worker& worker_;
  const Cluster& cluster_;
  std::vector<UpstreamConnection*> idle_;
  std::unordered_set<UpstreamConnection*> all_;
};

}  // namespace devhost
