#include "callouts.h"

#include <unordered_map>

#include "filter_config.h"
#include "js_call.h"
#include "log.h"
#include "stream.h"
#include "worker_env.h"

namespace nodevoy {

using contract::CalloutEventType;

namespace {

// W: one table per worker thread (a stream lives on one worker).
thread_local std::unordered_map<const Stream*, StreamCallouts> t_callouts;

const char* resetReasonName(nv_http_stream_reset_reason reason) {
  switch (reason) {
    case NV_STREAM_RESET_CONNECTION_FAILURE: return "connection_failure";
    case NV_STREAM_RESET_CONNECTION_TERMINATION: return "connection_termination";
    case NV_STREAM_RESET_LOCAL_RESET: return "local_reset";
    case NV_STREAM_RESET_LOCAL_REFUSED_STREAM_RESET: return "local_refused_stream_reset";
    case NV_STREAM_RESET_OVERFLOW: return "overflow";
    case NV_STREAM_RESET_REMOTE_RESET: return "remote_reset";
    case NV_STREAM_RESET_REMOTE_REFUSED_STREAM_RESET: return "remote_refused_stream_reset";
    case NV_STREAM_RESET_PROTOCOL_ERROR: return "protocol_error";
  }
  return "reset";
}

// Queues events for a callout the SDK still waits on, then tells the SDK unless JS is on the stack
// (it takes the queue itself after its callout call returns).
void deliver(Stream& stream, uint64_t id, std::vector<CalloutEvent> events, bool finished) {
  if (!stream.alive()) return;
  StreamCallouts& callouts = calloutsOf(stream);
  if (callouts.starting != nullptr && *callouts.starting == id && callouts.live.count(id) == 0) {
    if (finished) {
      callouts.finished_while_starting.insert(id);
    } else {
      callouts.live.insert(id);
    }
  } else if (callouts.live.count(id) == 0) {
    return;  // reset by the SDK, or unknown: nobody waits
  }
  if (finished) callouts.live.erase(id);
  for (auto& event : events) callouts.events.push_back(std::move(event));
  WorkerEnv& env = stream.env();
  if (env.inJs() || stream.instance() == nullptr) return;
  env.enterFromWorker();
  callDispatch(stream, contract::kCallout, false);
  env.drainIfOutermost();
  env.leaveFromWorker();
}

CalloutEvent event(uint64_t id, CalloutEventType type) {
  CalloutEvent e;
  e.id = id;
  e.type = type;
  return e;
}

}  // namespace

StreamCallouts& calloutsOf(const Stream& stream) {
  stream.markCalloutsUsed();
  return t_callouts[&stream];
}

void forgetCallouts(const Stream& stream) {
  if (stream.calloutsUsed()) t_callouts.erase(&stream);
}

std::string joinHeaders(const nv_envoy_header* headers, size_t size, uint32_t* status) {
  std::string joined;
  for (size_t i = 0; i < size; i++) {
    const std::string_view key(headers[i].key_ptr ? headers[i].key_ptr : "", headers[i].key_length);
    const std::string_view value(headers[i].value_ptr ? headers[i].value_ptr : "", headers[i].value_length);
    if (key == ":status") {
      if (status != nullptr) *status = static_cast<uint32_t>(std::atoi(std::string(value).c_str()));
      continue;
    }
    if (!joined.empty()) joined.push_back('\0');
    joined.append(key);
    joined.push_back('\0');
    joined.append(value);
  }
  return joined;
}

void onCalloutDone(Stream& stream, uint64_t id, nv_http_callout_result result, const nv_envoy_header* headers,
                   size_t headers_size, const nv_envoy_buffer* chunks, size_t chunks_size) {
  std::vector<CalloutEvent> events;
  if (result != NV_CALLOUT_SUCCESS) {
    CalloutEvent failed = event(id, CalloutEventType::Failed);
    failed.data = result == NV_CALLOUT_EXCEED_RESPONSE_BUFFER_LIMIT ? "exceed_response_buffer_limit" : "reset";
    events.push_back(std::move(failed));
  } else {
    CalloutEvent head = event(id, CalloutEventType::Headers);
    head.data = joinHeaders(headers, headers_size, &head.status);
    std::string body;
    for (size_t i = 0; i < chunks_size; i++) {
      if (chunks[i].ptr != nullptr) body.append(chunks[i].ptr, chunks[i].length);
    }
    head.end_of_stream = body.empty();
    events.push_back(std::move(head));
    if (!body.empty()) {
      CalloutEvent data = event(id, CalloutEventType::Data);
      data.data = std::move(body);
      data.end_of_stream = true;
      events.push_back(std::move(data));
    }
    events.push_back(event(id, CalloutEventType::Complete));
  }
  deliver(stream, id, std::move(events), true);
}

void onHttpStreamHeaders(Stream& stream, uint64_t id, const nv_envoy_header* headers, size_t size, bool end_stream) {
  CalloutEvent head = event(id, CalloutEventType::Headers);
  head.data = joinHeaders(headers, size, &head.status);
  head.end_of_stream = end_stream;
  std::vector<CalloutEvent> events;
  events.push_back(std::move(head));
  deliver(stream, id, std::move(events), false);
}

void onHttpStreamData(Stream& stream, uint64_t id, const nv_envoy_buffer* data, size_t count, bool end_stream) {
  CalloutEvent chunk = event(id, CalloutEventType::Data);
  for (size_t i = 0; i < count; i++) {
    if (data[i].ptr != nullptr) chunk.data.append(data[i].ptr, data[i].length);
  }
  chunk.end_of_stream = end_stream;
  std::vector<CalloutEvent> events;
  events.push_back(std::move(chunk));
  deliver(stream, id, std::move(events), false);
}

void onHttpStreamTrailers(Stream& stream, uint64_t id, const nv_envoy_header* trailers, size_t size) {
  CalloutEvent tail = event(id, CalloutEventType::Trailers);
  tail.data = joinHeaders(trailers, size, nullptr);
  std::vector<CalloutEvent> events;
  events.push_back(std::move(tail));
  deliver(stream, id, std::move(events), false);
}

void onHttpStreamComplete(Stream& stream, uint64_t id) {
  std::vector<CalloutEvent> events;
  events.push_back(event(id, CalloutEventType::Complete));
  deliver(stream, id, std::move(events), true);
}

void onHttpStreamReset(Stream& stream, uint64_t id, nv_http_stream_reset_reason reason) {
  CalloutEvent failed = event(id, CalloutEventType::Failed);
  failed.data = std::string("reset:") + resetReasonName(reason);
  std::vector<CalloutEvent> events;
  events.push_back(std::move(failed));
  deliver(stream, id, std::move(events), true);
}

}  // namespace nodevoy
