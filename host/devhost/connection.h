// A downstream HTTP/1.1 connection on a worker: parses requests with http-parser, runs one stream
// at a time (Envoy does not pipeline), writes responses.
#pragma once

#include <http_parser.h>

#include <memory>
#include <string>

#include "buffer.h"
#include "dispatcher.h"
#include "header_map.h"
#include "stream.h"

struct bufferevent;

namespace devhost {

struct ListenerEntry;

class ServerConnection : public DownstreamCodec, public DeferredDeletable {
 public:
  // Worker thread. Takes ownership of fd.
  ServerConnection(Worker& worker, ListenerEntry& listener, int fd, ConnectionInfo info);
  ~ServerConnection() override;

  // DownstreamCodec (worker thread).
  void encodeHeaders(HeaderMap& headers, bool end_stream) override;
  void encodeData(Buffer& data, bool end_stream) override;
  void encodeTrailers(HeaderMap& trailers) override;
  void onStreamEnded(bool reset) override;
  void readDisable(bool disable) override;
  bool aboveWriteBufferHighWatermark() const override { return above_watermark_; }

  // Worker thread: close now if idle, else after the current response (drain on shutdown).
  void drain();
  bool idle() const { return !stream_; }
  // Worker thread: close now, resetting any stream (end of shutdown).
  void forceClose() { close(); }

 public:
  // http-parser callbacks.
  static int onMessageBegin(http_parser* p);
  static int onUrl(http_parser* p, const char* at, size_t len);
  static int onHeaderField(http_parser* p, const char* at, size_t len);
  static int onHeaderValue(http_parser* p, const char* at, size_t len);
  static int onHeadersComplete(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t len);
  static int onMessageComplete(http_parser* p);

 private:
  static void readCb(bufferevent*, void* arg);
  static void writeCb(bufferevent*, void* arg);
  static void eventCb(bufferevent*, short what, void* arg);
  static void resumeCb(int, short, void* arg);
  void onRead();
  void dispatch();
  void commitHeader();
  // The request target into :path (and, for the absolute form, :authority and :scheme); false after a
  // codec error.
  bool setPath(HeaderMap& headers, http_method method);
  void flushBody();
  void close();
  void sendCodecError(const char* description);
  void checkWatermark();

  Worker& worker_;
  ListenerEntry& listener_;
  // Connection stats only: holding the chain itself would keep a reloaded-away config alive as long
  // as a keep-alive connection lasts.
  std::atomic<int64_t>* cx_active_;
  ConnectionInfo info_;
  bufferevent* bev_;
  struct event* resume_event_;
  http_parser parser_;
  std::unique_ptr<ActiveStream> stream_;
  uint64_t next_stream_id_ = 1;
  // Parse state of the current request.
  std::unique_ptr<HeaderMap> headers_;
  std::unique_ptr<HeaderMap> trailers_;
  std::string url_, field_, value_;
  bool in_value_ = false;
  bool headers_done_ = false;
  bool message_complete_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool request_has_body_ = false;
  bool request_end_sent_ = false;  // the stream got the request's end of stream (Envoy's remoteDecodeComplete)
  Buffer pending_body_;
  // Response state.
  bool chunked_response_ = false;
  bool close_after_response_ = false;
  bool response_done_ = false;
  bool closing_ = false;   // close once the output is flushed
  bool closed_ = false;
  bool draining_ = false;
  bool dispatching_ = false;
  bool above_watermark_ = false;
  bool http10_ = false;          // the current request is HTTP/1.0
  int read_disable_count_ = 0;   // flow control from the stream (refcounted, like Envoy's readDisable)
};

// Worker thread: accepts on the listener's socket for this worker.
void startWorkerListeners(Worker& worker);
void stopWorkerListeners(Worker& worker);

}  // namespace devhost
