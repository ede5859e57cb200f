// Callouts through Envoy clusters (issue 10): the events of a stream's callouts — one-shot
// (http_callout) and streamed (start_http_stream) — copied out of Envoy's hooks into a per-stream
// queue, then announced to the SDK with one internal dispatch (HookKind Callout); the SDK takes the
// queue with the binding's calloutEvents and settles its promises and response bodies.
//
// An event that arrives while JS of the environment is on the stack (Envoy calls a streamed
// callout's reset hook inside the module's own reset call, or an inline failure inside
// start_http_stream) is only queued: the SDK takes the queue after each callout call it makes.
//
// Threads: everything here runs on the stream's worker (W). The queues are per worker thread,
// keyed by the Stream object (dropped at its destroy, before the object can serve another stream).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "contract.gen.h"
#include "nodevoy_envoy_abi.h"

namespace nodevoy {

class Stream;

struct CalloutEvent {
  uint64_t id = 0;
  contract::CalloutEventType type = contract::CalloutEventType::Complete;
  uint32_t status = 0;  // Headers: the response status
  std::string data;     // Headers/Trailers: "k\0v\0..."; Data: bytes; Failed: the reason
  bool end_of_stream = false;
};

struct StreamCallouts {
  std::unordered_set<uint64_t> live;  // started and not finished (their events are wanted)
  std::vector<CalloutEvent> events;   // waiting for the SDK
  // While start_http_stream runs: where Envoy writes the new id (it does so before sending, so
  // events it delivers inline carry it), and the ids that finished inline.
  const uint64_t* starting = nullptr;
  std::unordered_set<uint64_t> finished_while_starting;
};

// W. The stream's callouts (created on first use).
StreamCallouts& calloutsOf(const Stream& stream);
// W. Drops the stream's callouts (on_http_filter_destroy: Envoy cancels them without events).
void forgetCallouts(const Stream& stream);

// W. The ABI's callout hooks, for a live stream.
void onCalloutDone(Stream& stream, uint64_t id, nv_http_callout_result result, const nv_envoy_header* headers,
                   size_t headers_size, const nv_envoy_buffer* chunks, size_t chunks_size);
void onHttpStreamHeaders(Stream& stream, uint64_t id, const nv_envoy_header* headers, size_t size, bool end_stream);
void onHttpStreamData(Stream& stream, uint64_t id, const nv_envoy_buffer* data, size_t count, bool end_stream);
void onHttpStreamTrailers(Stream& stream, uint64_t id, const nv_envoy_header* trailers, size_t size);
void onHttpStreamComplete(Stream& stream, uint64_t id);
void onHttpStreamReset(Stream& stream, uint64_t id, nv_http_stream_reset_reason reason);

// "k\0v\0k\0v" of an Envoy header array (the SDK's header string form).
std::string joinHeaders(const nv_envoy_header* headers, size_t size, uint32_t* status);

}  // namespace nodevoy
