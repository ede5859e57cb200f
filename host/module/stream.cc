#include "stream.h"

#include <cinttypes>
#include <cstring>
#include <vector>

#include "envoy_api.h"
#include "filter_config.h"
#include "js_call.h"
#include "log.h"
#include "sandbox_stats.h"
#include "worker_env.h"

namespace nodevoy {

using contract::BodyMode;
using contract::BodyPart;
using contract::BodyReadState;
using contract::BodyWrite;
using contract::Direction;
using contract::hook;

namespace {

bool isHeld(Stream::Phase phase) { return phase == Stream::Phase::Pending || phase == Stream::Phase::Stopped; }

const char* directionName(Direction direction) { return direction == Direction::Request ? "request" : "response"; }

nv_body_type receivedType(Direction direction) {
  return direction == Direction::Request ? NV_BODY_RECEIVED_REQUEST : NV_BODY_RECEIVED_RESPONSE;
}

nv_body_type bufferedType(Direction direction) {
  return direction == Direction::Request ? NV_BODY_BUFFERED_REQUEST : NV_BODY_BUFFERED_RESPONSE;
}

// Enters the environment for the scope when JS may run (nested entries are cheap).
class JsEntry {
 public:
  JsEntry(WorkerEnv& env, bool enter) : env_(enter ? &env : nullptr) {
    if (env_ != nullptr) env_->enterFromWorker();
  }
  ~JsEntry() {
    if (env_ != nullptr) env_->leaveFromWorker();
  }
  JsEntry(const JsEntry&) = delete;
  JsEntry& operator=(const JsEntry&) = delete;

 private:
  WorkerEnv* env_;
};

// Sets a flag for the scope.
class FlagScope {
 public:
  explicit FlagScope(bool& flag) : flag_(flag) { flag_ = true; }
  ~FlagScope() { flag_ = false; }

 private:
  bool& flag_;
};

}  // namespace

Stream Stream::failed_sentinel_;

void Stream::start(WorkerEnv* env, std::shared_ptr<FilterConfig> config, FilterInstance* instance,
                   nv_filter_envoy_ptr fe, StreamTable::Entry entry, uint64_t id) {
  env_ = env;
  config_ = std::move(config);
  instance_ = instance;
  filter_envoy_ = fe;
  entry_ = entry;
  id_ = id;
  scheduler_ = nullptr;
  request_ = DirectionState{};
  response_ = DirectionState{};
  alive_ = true;
  replied_ = complete_ = notify_complete_ = resume_posted_ = waiting_ = callouts_used_ = false;
  crossings_ = bytes_copied_ = 0;
}

void Stream::finish() {
  markGone();
  instance_ = nullptr;
  config_.reset();
}

bool Stream::implements(int kind) const {
  return instance_ != nullptr && (instance_->hooks & (1u << kind)) != 0;
}

bool Stream::wantsBodyFrames(Direction direction) const {
  const DirectionState& d = direction == Direction::Request ? request_ : response_;
  return implements(bodyHook(direction)) || d.body_mode == BodyMode::Stream;
}

// ---- Running hooks -------------------------------------------------------------------------------

int Stream::runHook(int kind, bool end_of_stream) {
  const Direction direction = hook(kind).direction;
  DirectionState* d = direction == Direction::None ? nullptr : &state(direction);
  if (d != nullptr) {
    d->phase = Phase::InHook;
    d->hook = kind;
    d->on_stack = true;
  }
  int action = callDispatch(*this, kind, end_of_stream);
  if (d == nullptr || !alive_) {
    if (d != nullptr) d->on_stack = false;
    // What the hook queued runs now too: onStreamComplete aborts stream.signal, whose reactions
    // (a cancelled timer's rejection) are microtasks that nothing else would run until the next hook.
    env_->drainIfOutermost();
    return action;
  }
  if (action == contract::kPending) {
    // Registered as waiting before the isolate can be let go: from now on the stream's
    // continuations may only run on this worker, so the poller must wake it rather than run the
    // loop itself.
    d->phase = Phase::Pending;
    ensureScheduler();
    syncWaiting();
  }
  env_->drainIfOutermost();  // nextTicks and microtasks: the promise may settle now
  d->on_stack = false;
  if (action == contract::kPending && d->settled && d->phase == Phase::Pending) {
    d->settled = false;
    action = d->action;
  }
  return action;
}

Stream::Outcome Stream::resolve(Direction direction, int action) {
  DirectionState& d = state(direction);
  if (replied_ || !alive_) {
    d.phase = Phase::Done;  // the local reply ended the filter chain; Envoy ignores our status
    syncWaiting();
    return Outcome::Answered;
  }
  switch (action) {
    case contract::kContinue:
      goOn(d);
      return Outcome::Go;
    case contract::kStop:
      if (d.continue_early) {
        goOn(d);
        return Outcome::Go;
      }
      d.phase = Phase::Stopped;
      hold(d, d.hook);
      return Outcome::Hold;
    case contract::kPending:
      d.phase = Phase::Pending;
      hold(d, d.hook);
      return Outcome::Hold;
    default:
      if (fail(direction)) {
        d.phase = Phase::Done;
        syncWaiting();
        return Outcome::Answered;
      }
      goOn(d);  // fail open
      return Outcome::Go;
  }
}

void Stream::hold(DirectionState& d, int kind) {
  d.hook = kind;
  d.owes_continue = true;
  ensureScheduler();
  syncWaiting();
}

void Stream::goOn(DirectionState& d) {
  d.phase = Phase::Idle;
  d.hook = 0;
  d.continue_early = false;
  d.headers_passed = true;
  syncWaiting();
}

bool Stream::fail(Direction direction) {
  if (!alive_) return true;  // destroyed meanwhile: Envoy's pointers are no longer ours to use
  if (config_->errors_counter != 0) {
    envoy.http_filter_increment_counter(filter_envoy_, config_->errors_counter, nullptr, 0, 1);
  }
  if (replied_) return true;
  if (config_->failOpen()) return false;
  replied_ = true;
  static const char kDetails[] = "nodevoy_filter_error";
  if (direction == Direction::Response && response_.headers_passed) {
    // The response headers went downstream: too late for a 500, as in the module SDKs.
    envoy.http_filter_reset_stream(filter_envoy_, NV_FILTER_RESET_LOCAL_RESET,
                                   nv_module_buffer{kDetails, sizeof(kDetails) - 1});
    return true;
  }
  envoy.http_send_response(filter_envoy_, 500, nullptr, 0, nv_module_buffer{nullptr, 0},
                           nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  return true;
}

// ---- Envoy's hooks ---------------------------------------------------------------------------------

nv_headers_status Stream::onHeaders(contract::HookKind kind, bool end_of_stream) {
  if (env_->dead()) return abandon() ? NV_HEADERS_STOP_ITERATION : NV_HEADERS_CONTINUE;
  const Direction direction = hook(kind).direction;
  DirectionState& d = state(direction);
  if (end_of_stream) d.end_seen = true;
  if (!implements(kind)) {
    d.headers_passed = true;
    return NV_HEADERS_CONTINUE;
  }
  JsEntry js(*env_, true);
  const int action = runHook(kind, end_of_stream);
  switch (resolve(direction, action)) {
    case Outcome::Go: return NV_HEADERS_CONTINUE;
    default: return NV_HEADERS_STOP_ITERATION;  // held (body and trailers come to us and are held) or answered
  }
}

nv_body_status Stream::onBody(contract::HookKind kind, bool end_of_stream) {
  if (env_->dead()) return abandon() ? NV_BODY_STOP_ITERATION_NO_BUFFER : NV_BODY_CONTINUE;
  const Direction direction = hook(kind).direction;
  DirectionState& d = state(direction);
  if (end_of_stream) {
    d.end_seen = true;
    d.body_end_by_frame = true;
  }
  const bool buffering = d.body_mode == BodyMode::Buffer;
  const nv_body_status held = buffering ? NV_BODY_STOP_ITERATION_AND_BUFFER : NV_BODY_STOP_ITERATION_AND_WATERMARK;
  const bool body_end_due = buffering && end_of_stream && !d.body_end_delivered;
  if (isHeld(d.phase)) {
    // One hook per direction: the frame waits in Envoy's buffer (delivered by catch-up later).
    if (body_end_due) {
      JsEntry js(*env_, true);
      FlagScope in_hook(d.in_body_hook);
      deliverBodyEnd(direction);
    }
    return replied_ ? NV_BODY_STOP_ITERATION_NO_BUFFER : held;
  }
  if (d.phase == Phase::Done || replied_) return NV_BODY_STOP_ITERATION_NO_BUFFER;
  if (buffering && !end_of_stream) return NV_BODY_STOP_ITERATION_AND_BUFFER;  // a whole-body read: hold, no crossing
  if (!body_end_due && !wantsBodyFrames(direction)) {
    d.body_passed = true;
    d.buffered_seen = 0;
    return NV_BODY_CONTINUE;
  }
  JsEntry js(*env_, true);
  FlagScope in_hook(d.in_body_hook);
  if (body_end_due) {
    deliverBodyEnd(direction);
    if (replied_ || !alive_) return NV_BODY_STOP_ITERATION_NO_BUFFER;
    if (!env_->canDrain()) {
      // Nested inside other JS, the read's continuation cannot run before we answer Envoy: hold,
      // and continue from on_scheduled once it has.
      d.phase = Phase::Pending;
      d.hook = kind;
      d.settled = true;
      d.action = contract::kContinue;
      hold(d, kind);
      postResume();
      return NV_BODY_STOP_ITERATION_AND_BUFFER;
    }
  }
  if (!wantsBodyFrames(direction)) {
    d.body_passed = true;
    d.buffered_seen = 0;
    return NV_BODY_CONTINUE;
  }
  int action;
  {
    FlagScope chunk(d.chunk_valid);
    action = runHook(bodyHook(direction), end_of_stream);
  }
  if (end_of_stream) d.body_hook_saw_end = true;
  switch (resolve(direction, action)) {
    case Outcome::Go:
      d.body_passed = true;
      d.buffered_seen = 0;
      return NV_BODY_CONTINUE;
    case Outcome::Hold:
      // Seen by the hook; the received frame joins the buffer when we return.
      d.buffered_seen = bufferedSize(direction) + (receivedIsBuffered(direction) ? 0 : receivedSize(direction));
      return d.body_mode == BodyMode::Buffer ? NV_BODY_STOP_ITERATION_AND_BUFFER : NV_BODY_STOP_ITERATION_AND_WATERMARK;
    default:
      return NV_BODY_STOP_ITERATION_NO_BUFFER;
  }
}

nv_trailers_status Stream::onTrailers(contract::HookKind kind) {
  if (env_->dead()) return abandon() ? NV_TRAILERS_STOP_ITERATION : NV_TRAILERS_CONTINUE;
  const Direction direction = hook(kind).direction;
  DirectionState& d = state(direction);
  d.end_seen = true;
  d.trailers_seen = true;
  const bool body_end_due = d.body_mode == BodyMode::Buffer && !d.body_end_delivered;
  if (!body_end_due && !implements(kind) && !wantsBodyFrames(direction)) {
    if (isHeld(d.phase) || d.phase == Phase::Done || replied_) return NV_TRAILERS_STOP_ITERATION;
    return NV_TRAILERS_CONTINUE;
  }
  JsEntry js(*env_, true);
  if (body_end_due) deliverBodyEnd(direction);
  if (isHeld(d.phase) || d.phase == Phase::Done || replied_ || !alive_) return NV_TRAILERS_STOP_ITERATION;
  return catchUp(direction) == Outcome::Go ? NV_TRAILERS_CONTINUE : NV_TRAILERS_STOP_ITERATION;
}

Stream::Outcome Stream::catchUp(Direction direction) {
  DirectionState& d = state(direction);
  if (wantsBodyFrames(direction)) {
    const bool unseen = bufferedSize(direction) > d.buffered_seen;
    const bool end_untold = d.body_end_by_frame && !d.body_hook_saw_end;
    if (unseen || end_untold) {
      const bool end_of_stream = d.body_end_by_frame;
      int action;
      {
        FlagScope chunk(d.chunk_valid);
        action = runHook(bodyHook(direction), end_of_stream);
      }
      if (end_of_stream) d.body_hook_saw_end = true;
      d.buffered_seen = bufferedSize(direction);
      const Outcome outcome = resolve(direction, action);
      if (outcome != Outcome::Go) return outcome;
    }
  }
  const int trailers = trailersHook(direction);
  if (d.trailers_seen && !d.trailers_delivered && implements(trailers)) {
    d.trailers_delivered = true;
    const Outcome outcome = resolve(direction, runHook(trailers, true));
    if (outcome != Outcome::Go) return outcome;
  }
  return Outcome::Go;
}

void Stream::deliverBodyEnd(Direction direction) {
  DirectionState& d = state(direction);
  if (d.body_end_delivered) return;
  d.body_end_delivered = true;
  const int kind = direction == Direction::Request ? contract::kRequestBodyEnd : contract::kResponseBodyEnd;
  callDispatch(*this, kind, true);
  env_->drainIfOutermost();  // the read's continuation runs now, while the body is still held
}

void Stream::onComplete() {
  const bool run = !env_->dead() && (implements(contract::kStreamComplete) || notify_complete_);
  for (Direction direction : {Direction::Request, Direction::Response}) {
    const DirectionState& d = state(direction);
    if (d.body_mode == BodyMode::Buffer && !d.body_end_delivered && !replied_) {
      NV_WARN("nodevoy: filter '%s' stream %" PRIu64 ": the %s body read did not complete: the stream ended first "
              "(a reset, or a body over Envoy's buffer limit, answered 413 or 500)",
              config_->name().c_str(), id_, directionName(direction));
    }
  }
  complete_ = true;
  if (run) {
    JsEntry js(*env_, true);
    runHook(contract::kStreamComplete, true);
  }
  // Nothing is held any more: the stream is over.
  request_.phase = response_.phase = Phase::Done;
  if (alive_) syncWaiting();
}

void Stream::onScheduled(uint64_t event_id) {
  if (env_->dead()) {
    abandon();
    return;
  }
  if (event_id == contract::kEventPump) {
    v8::HandleScope handle_scope(env_->isolate());
    env_->pumpFromWorker();
  } else if (event_id == contract::kEventResume) {
    resume_posted_ = false;
  }
  env_->drainIfOutermost();
  if (!alive_) return;
  applyMailbox(Direction::Request);
  if (alive_) applyMailbox(Direction::Response);
}

void Stream::applyMailbox(Direction direction) {
  DirectionState& d = state(direction);
  if (!d.settled || d.on_stack) return;  // on_stack: the hook's own frame applies it
  d.settled = false;
  if (!isHeld(d.phase)) return;
  if (resolve(direction, d.action) != Outcome::Go) return;
  if (catchUp(direction) != Outcome::Go || !d.owes_continue || !alive_) return;
  d.owes_continue = false;
  if (bufferedSize(direction) > 0) d.body_passed = true;
  d.buffered_seen = 0;
  if (direction == Direction::Request) {
    envoy.http_filter_continue_decoding(filter_envoy_);
  } else {
    envoy.http_filter_continue_encoding(filter_envoy_);
  }
}

bool Stream::abandon() {
  if (!alive_) return true;
  request_.phase = response_.phase = Phase::Done;
  syncWaiting();
  if (complete_) return true;
  // The environment died under this stream: answer it as a failed filter would (ignoring failOpen:
  // nothing of the filter ran to the end).
  if (replied_) return true;
  replied_ = true;
  static const char kDetails[] = "nodevoy_environment_stopped";
  if (response_.headers_passed) {
    envoy.http_filter_reset_stream(filter_envoy_, NV_FILTER_RESET_LOCAL_RESET, nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  } else {
    envoy.http_send_response(filter_envoy_, 500, nullptr, 0, nv_module_buffer{nullptr, 0},
                             nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  }
  return true;
}

bool Stream::timeOut(Direction direction) {
  DirectionState& d = state(direction);
  if (!alive_ || !isHeld(d.phase) || replied_ || complete_) return false;
  NV_ERROR("nodevoy: filter '%s' %s on stream %" PRIu64 " did not %s within %u ms; answering %u",
           config_->name().c_str(), hook(d.hook).name, id_, d.phase == Phase::Stopped ? "continue" : "settle",
           config_->settleTimeoutMs(), config_->timeoutStatus());
  countSandboxEvent(SandboxEvent::SettleTimeout);
  d.phase = Phase::Done;
  syncWaiting();
  replied_ = true;
  static const char kDetails[] = "nodevoy_hook_timeout";
  if (direction == Direction::Response && response_.headers_passed) {
    envoy.http_filter_reset_stream(filter_envoy_, NV_FILTER_RESET_LOCAL_RESET, nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  } else {
    envoy.http_send_response(filter_envoy_, config_->timeoutStatus(), nullptr, 0, nv_module_buffer{nullptr, 0},
                             nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  }
  return true;
}

// ---- From JS ---------------------------------------------------------------------------------------

void Stream::settle(Direction direction, int action) {
  if (direction == Direction::None) return;
  DirectionState& d = state(direction);
  if (d.phase != Phase::Pending) return;  // stale: answered, failed or completed meanwhile
  d.settled = true;
  d.action = action;
  if (!d.on_stack) postResume();
}

void Stream::continueDirection(Direction direction) {
  if (direction == Direction::None) return;
  DirectionState& d = state(direction);
  switch (d.phase) {
    case Phase::Stopped:
      d.settled = true;
      d.action = contract::kContinue;
      postResume();
      break;
    case Phase::InHook:
    case Phase::Pending:
      d.continue_early = true;  // a 'stop' the busy hook returns continues at once
      break;
    default:
      break;  // not stopped: nothing to continue (Envoy ignores such a continue too)
  }
}

void Stream::postResume() {
  if (resume_posted_ || scheduler_ == nullptr) return;
  resume_posted_ = true;
  envoy.http_filter_scheduler_commit(scheduler_, contract::kEventResume);
}

void Stream::ensureScheduler() {
  if (scheduler_ == nullptr && alive_) scheduler_ = envoy.http_filter_scheduler_new(filter_envoy_);
}

void Stream::syncWaiting() {
  const bool want = alive_ && (isHeld(request_.phase) || isHeld(response_.phase));
  if (want == waiting_) return;
  if (want) {
    env_->addWaiting(this);
  } else {
    env_->removeWaiting(this);
  }
}

// ---- Bodies ------------------------------------------------------------------------------------------

uint64_t Stream::bufferedSize(Direction direction) const {
  return alive_ ? envoy.http_get_body_size(filter_envoy_, bufferedType(direction)) : 0;
}

uint64_t Stream::receivedSize(Direction direction) const {
  const DirectionState& d = direction == Direction::Request ? request_ : response_;
  return alive_ && d.in_body_hook ? envoy.http_get_body_size(filter_envoy_, receivedType(direction)) : 0;
}

bool Stream::receivedIsBuffered(Direction direction) const {
  auto check = direction == Direction::Request ? envoy.http_received_buffered_request_body
                                               : envoy.http_received_buffered_response_body;
  return check != nullptr && check(filter_envoy_);
}

// No copy here: the bytes are copied once, by whoever holds the view, straight to where they go (a
// JS Buffer for a read).
void Stream::viewBody(nv_body_type type, uint64_t from, BodyView* out) const {
  const size_t count = envoy.http_get_body_chunks_size(filter_envoy_, type);
  if (count == 0) return;
  const size_t first = out->pieces.size();
  out->pieces.resize(first + count);
  if (!envoy.http_get_body_chunks(filter_envoy_, type, out->pieces.data() + first)) {
    out->pieces.resize(first);
    return;
  }
  size_t kept = first;
  for (size_t i = first; i < first + count; i++) {
    nv_envoy_buffer chunk = out->pieces[i];
    if (from >= chunk.length) {
      from -= chunk.length;
      continue;
    }
    chunk.ptr += from;
    chunk.length -= from;
    from = 0;
    out->size += chunk.length;
    out->pieces[kept++] = chunk;
  }
  out->pieces.resize(kept);
}

void Stream::BodyView::copyTo(char* out) const {
  for (const nv_envoy_buffer& piece : pieces) {
    if (piece.length == 0) continue;
    memcpy(out, piece.ptr, piece.length);
    out += piece.length;
  }
}

void Stream::copyBody(nv_body_type type, uint64_t from, std::string* out) const {
  BodyView view;
  viewBody(type, from, &view);
  const size_t at = out->size();
  out->resize(at + view.size);  // sized once, then one copy
  view.copyTo(out->data() + at);
}

bool Stream::appendBody(nv_body_type type, const char* data, size_t size) {
  if (size == 0) return true;
  return envoy.http_append_body(filter_envoy_, type, nv_module_buffer{data, size});
}

bool Stream::drainBody(nv_body_type type, uint64_t size) {
  if (size == 0) return true;
  return envoy.http_drain_body(filter_envoy_, type, size);
}

BodyReadState Stream::setBodyMode(Direction direction, BodyMode mode) {
  DirectionState& d = state(direction);
  if (mode == BodyMode::None) {
    if (d.body_mode == BodyMode::Stream) d.body_mode = BodyMode::None;
    return BodyReadState::Later;
  }
  if (mode == BodyMode::Buffer) {
    if (d.body_passed) return BodyReadState::TooLate;
    d.body_mode = BodyMode::Buffer;
    if (d.end_seen) {
      d.body_end_delivered = true;  // read now, not through a BodyEnd event
      return BodyReadState::Complete;
    }
    return BodyReadState::Later;
  }
  if (d.body_mode == BodyMode::None) d.body_mode = BodyMode::Stream;
  return d.end_seen && d.body_passed ? BodyReadState::Complete : BodyReadState::Later;
}

bool Stream::readBody(Direction direction, BodyPart part, BodyView* out, std::string* why) {
  DirectionState& d = state(direction);
  const bool with_received = d.in_body_hook && !receivedIsBuffered(direction);
  if (part == BodyPart::Chunk) {
    if (!d.chunk_valid) {
      *why = "a body chunk can be read only during its hook's synchronous part (before its first await): "
             "copy it with chunk.bytes() there";
      return false;
    }
    viewBody(bufferedType(direction), d.buffered_seen, out);
  } else {
    if (d.body_passed) {
      *why = std::string("the ") + directionName(direction) +
             " body already went on to later filters; read it whole from a hook that holds it (await it in on" +
             (direction == Direction::Request ? "RequestHeaders" : "ResponseHeaders") + ")";
      return false;
    }
    viewBody(bufferedType(direction), 0, out);
  }
  if (with_received) viewBody(receivedType(direction), 0, out);
  countBytes(out->size);
  return true;
}

bool Stream::fixContentLength(Direction direction, uint64_t old_total, uint64_t new_total, std::string* why) {
  if (old_total == new_total) return true;
  DirectionState& d = state(direction);
  const nv_header_type type = direction == Direction::Request ? NV_HEADER_REQUEST : NV_HEADER_RESPONSE;
  static const char kName[] = "content-length";
  const nv_module_buffer name{kName, sizeof(kName) - 1};
  nv_envoy_buffer current{nullptr, 0};
  size_t count = 0;
  envoy.http_get_header(filter_envoy_, type, name, &current, 0, &count);
  if (count == 0) return true;  // chunked: nothing states the length
  if (d.headers_passed) {
    *why = std::string("the ") + directionName(direction) + " headers already went on with content-length " +
           std::string(current.ptr ? current.ptr : "", current.length) +
           ", so the body's length cannot change now: hold the headers (await the body in on" +
           (direction == Direction::Request ? "RequestHeaders" : "ResponseHeaders") +
           "), or remove content-length there to stream a body of another length";
    return false;
  }
  const std::string value = std::to_string(new_total);
  envoy.http_set_header(filter_envoy_, type, name, nv_module_buffer{value.data(), value.size()});
  return true;
}

bool Stream::writeBody(Direction direction, BodyPart part, BodyWrite write, const std::string& data, std::string* why) {
  DirectionState& d = state(direction);
  const nv_body_type buffered = bufferedType(direction);
  const nv_body_type received = receivedType(direction);
  const bool with_received = d.in_body_hook && !receivedIsBuffered(direction);
  const uint64_t buffered_size = bufferedSize(direction);
  const uint64_t received_size = with_received ? receivedSize(direction) : 0;
  const uint64_t old_total = buffered_size + received_size;
  uint64_t part_size;
  if (part == BodyPart::Chunk) {
    if (!d.chunk_valid) {
      *why = "a body chunk can be changed only during its hook's synchronous part (before its first await)";
      return false;
    }
    part_size = buffered_size - d.buffered_seen + received_size;
  } else {
    if (d.body_passed || !d.end_seen) {
      *why = std::string("the whole ") + directionName(direction) +
             " body is not held now: read it first (await body.bytes()) from a hook that holds the direction";
      return false;
    }
    part_size = old_total;
  }
  const uint64_t new_total =
      write == BodyWrite::Replace ? old_total - part_size + data.size() : old_total + data.size();
  if (!fixContentLength(direction, old_total, new_total, why)) return false;
  const uint64_t keep_front = part == BodyPart::Chunk ? d.buffered_seen : 0;  // bytes before the part
  switch (write) {
    case BodyWrite::Append:
      return appendBody(with_received ? received : buffered, data.data(), data.size());
    case BodyWrite::Replace:
    case BodyWrite::Prepend: {
      // The part starts at keep_front in the buffered body (and runs on into the received frame).
      if (write == BodyWrite::Replace && keep_front == buffered_size && with_received) {
        drainBody(received, received_size);  // the part is the received frame alone
        return appendBody(received, data.data(), data.size());
      }
      std::string front, rest;
      copyBody(buffered, 0, &front);
      rest = front.substr(keep_front);
      front.resize(keep_front);
      drainBody(buffered, buffered_size);
      if (write == BodyWrite::Replace) {
        if (with_received) drainBody(received, received_size);
        rest.clear();
      }
      std::string rebuilt = front + data + rest;
      return appendBody(buffered, rebuilt.data(), rebuilt.size());
    }
  }
  return false;
}

}  // namespace nodevoy
