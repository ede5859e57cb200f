#include "stream.h"

#include <cinttypes>

#include "envoy_api.h"
#include "filter_config.h"
#include "js_call.h"
#include "log.h"
#include "worker_env.h"

namespace nodevoy {

using contract::Direction;
using contract::HookFamily;
using contract::hook;

namespace {

bool isHeld(Stream::Phase phase) { return phase == Stream::Phase::Pending || phase == Stream::Phase::Stopped; }

}  // namespace

Stream* Stream::failedSentinel() {
  static Stream sentinel;
  return &sentinel;
}

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
  replied_ = complete_ = resume_posted_ = waiting_ = false;
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

bool Stream::needsJs(contract::HookKind kind) const {
  if (kind == contract::kStreamComplete) return implements(kind);
  const DirectionState& d = hook(kind).direction == Direction::Request ? request_ : response_;
  return d.phase == Phase::Idle && implements(kind);
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
  int action = callDispatch(*env_, *instance_, kind, token(), end_of_stream, config_->name(), id_);
  if (d == nullptr || !alive_) return action;
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
  if (direction == Direction::Response && response_.headers_passed) {
    // The response headers went downstream: too late for a 500, as in the module SDKs.
    static const char kDetails[] = "nodevoy_filter_error";
    envoy.http_filter_reset_stream(filter_envoy_, NV_FILTER_RESET_LOCAL_RESET,
                                   nv_module_buffer{kDetails, sizeof(kDetails) - 1});
    return true;
  }
  static const char kDetails[] = "nodevoy_filter_error";
  envoy.http_send_response(filter_envoy_, 500, nullptr, 0, nv_module_buffer{nullptr, 0},
                           nv_module_buffer{kDetails, sizeof(kDetails) - 1});
  return true;
}

// ---- Envoy's hooks ---------------------------------------------------------------------------------

nv_headers_status Stream::onHeaders(contract::HookKind kind, bool end_of_stream) {
  const Direction direction = hook(kind).direction;
  DirectionState& d = state(direction);
  if (end_of_stream) d.end_seen = true;
  if (!implements(kind)) {
    d.headers_passed = true;
    return NV_HEADERS_CONTINUE;
  }
  const int action = runHook(kind, end_of_stream);
  switch (resolve(direction, action)) {
    case Outcome::Go: return NV_HEADERS_CONTINUE;
    default: return NV_HEADERS_STOP_ITERATION;  // held (body and trailers come to us and are held) or answered
  }
}

nv_body_status Stream::onBody(contract::HookKind kind, bool end_of_stream) {
  const Direction direction = hook(kind).direction;
  DirectionState& d = state(direction);
  if (end_of_stream) d.end_seen = true;
  if (isHeld(d.phase)) return NV_BODY_STOP_ITERATION_AND_WATERMARK;  // held with flow control, no crossing
  if (d.phase == Phase::Done) return NV_BODY_STOP_ITERATION_NO_BUFFER;
  if (!implements(kind)) return NV_BODY_CONTINUE;
  const int action = runHook(kind, end_of_stream);
  switch (resolve(direction, action)) {
    case Outcome::Go: return NV_BODY_CONTINUE;
    case Outcome::Hold: return NV_BODY_STOP_ITERATION_AND_WATERMARK;
    default: return NV_BODY_STOP_ITERATION_NO_BUFFER;
  }
}

nv_trailers_status Stream::onTrailers(contract::HookKind kind) {
  const Direction direction = hook(kind).direction;
  DirectionState& d = state(direction);
  d.end_seen = true;
  if (isHeld(d.phase) || d.phase == Phase::Done) return NV_TRAILERS_STOP_ITERATION;
  if (!implements(kind)) return NV_TRAILERS_CONTINUE;
  const int action = runHook(kind, true);
  return resolve(direction, action) == Outcome::Go ? NV_TRAILERS_CONTINUE : NV_TRAILERS_STOP_ITERATION;
}

void Stream::onComplete() {
  complete_ = true;
  if (implements(contract::kStreamComplete)) runHook(contract::kStreamComplete, true);
  // Nothing is held any more: the stream is over.
  request_.phase = response_.phase = Phase::Done;
  if (alive_) syncWaiting();
}

void Stream::onScheduled(uint64_t event_id) {
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
  const int action = d.action;
  if (resolve(direction, action) != Outcome::Go || !d.owes_continue) return;
  d.owes_continue = false;
  if (direction == Direction::Request) {
    envoy.http_filter_continue_decoding(filter_envoy_);
  } else {
    envoy.http_filter_continue_encoding(filter_envoy_);
  }
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

}  // namespace nodevoy
