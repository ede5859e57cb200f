// libnodevoy's owner of one stream's state: one Stream per Envoy filter instance (its address is the
// filter_module_ptr Envoy hands back to every hook). Each direction (request = decoding, response =
// encoding) has its own state, so the two can each be running a hook, waiting on a promise,
// stopped, or idle, independently. The ABI trampolines (hooks.cc) call one method each; the binding
// (binding/*.cc) calls the W methods below and never writes a field.
//
// Direction phases and who moves them:
//   Idle    --hook starts (W)-------------------------------> InHook
//   InHook  --returns Continue--> Idle   --returns Stop--> Stopped   --returns a promise--> Pending
//   Pending --resume() (W, from JS) + on_scheduled----------> Idle (Continue) | Stopped (Stop) | Done (error)
//   Stopped --continueStream() (W, from JS) + on_scheduled--> Idle
//   any     --local reply or failure------------------------> Done
// One hook per direction runs at a time. While a direction is Pending or Stopped it is held: its
// later body frames and trailers are held by Envoy (with flow control) without a JS crossing, and
// Envoy is owed one continue. Before that continue, what arrived meanwhile is delivered to the
// filter's body hook (as one chunk) and trailers hook ("catch-up"), so those hooks see every byte.
//
// Bodies: a filter that never reads a body costs no crossing for it. A whole-body read (BodyMode
// Buffer) holds every frame in Envoy's buffer (its limit answers 413/500) until the end, then a
// BodyEnd event lets the SDK read it; a streaming reader (BodyMode Stream) gets every frame.
//
// Threads (legend in worker_env.h): everything here runs on the stream's worker (W); methods that
// may run JS enter the environment themselves. Other threads touch a Stream only through its
// scheduler, and only while it is in the environment's waiting set (guarded by the env's mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "contract.gen.h"
#include "nodevoy_envoy_abi.h"
#include "stream_table.h"

namespace nodevoy {

class FilterConfig;
struct FilterInstance;
class WorkerEnv;

class Stream {
 public:
  enum class Phase : uint8_t { Idle, InHook, Pending, Stopped, Done };

  struct DirectionState {
    Phase phase = Phase::Idle;
    int hook = 0;                 // the hook that is InHook, Pending or Stopped
    bool on_stack = false;        // that hook's native frame is still running (no scheduling needed)
    bool owes_continue = false;   // a stop status was returned: Envoy waits for continue_*
    bool continue_early = false;  // continueStream() while the hook was busy: its 'stop' continues
    bool settled = false;         // mailbox: resume()/continueStream() left an action to apply
    int action = 0;
    bool end_seen = false;        // the direction's end of stream arrived (a frame or trailers)
    bool headers_passed = false;  // its headers went on to later filters (response: downstream)
    // Body.
    contract::BodyMode body_mode = contract::BodyMode::None;
    bool body_end_delivered = false;  // the whole-body read got its BodyEnd event
    bool body_passed = false;         // body bytes went on to later filters
    bool body_end_by_frame = false;   // the end came with a body frame (not trailers)
    bool body_hook_saw_end = false;   // the body hook was called with endOfStream
    uint64_t buffered_seen = 0;       // front bytes of Envoy's buffered body the body hook has seen
    bool in_body_hook = false;        // inside Envoy's body hook: the "received" frame exists
    bool chunk_valid = false;         // a body hook's chunk is readable (during its synchronous run)
    // Trailers.
    bool trailers_seen = false;
    bool trailers_delivered = false;
  };

  // ---- W: life, driven by WorkerEnv ----
  void start(WorkerEnv* env, std::shared_ptr<FilterConfig> config, FilterInstance* instance, nv_filter_envoy_ptr fe,
             StreamTable::Entry entry, uint64_t id);
  // Envoy destroyed the filter: no Envoy call from now on (JS of this stream may still be unwinding).
  void markGone() {
    alive_ = false;
    filter_envoy_ = nullptr;
  }
  // Once no JS of the stream is on the stack: drops the config and the instance. (The scheduler is
  // deleted by WorkerEnv, under its mutex.)
  void finish();

  // ---- W: Envoy's hooks (hooks.cc); each enters the environment itself when JS may run ----
  nv_headers_status onHeaders(contract::HookKind kind, bool end_of_stream);
  nv_body_status onBody(contract::HookKind kind, bool end_of_stream);
  nv_trailers_status onTrailers(contract::HookKind kind);
  void onComplete();
  // The environment entered by the caller.
  void onScheduled(uint64_t event_id);

  // ---- W: from the binding (JS on the worker) ----
  // A hook of `direction` that went Pending settled with `action`.
  void settle(contract::Direction direction, int action);
  // continueRequest()/continueResponse().
  void continueDirection(contract::Direction direction);
  // A local reply was accepted for this stream (before calling Envoy's send_response).
  void markReplied() { replied_ = true; }
  // W: whether the stream ever had callout bookkeeping (most never do: nothing to forget).
  bool calloutsUsed() const { return callouts_used_; }
  void markCalloutsUsed() const { callouts_used_ = true; }
  bool replied() const { return replied_; }
  // stream_complete has begun: the response is over; writes are refused.
  bool complete() const { return complete_; }
  bool alive() const { return alive_; }
  // onStreamComplete reaches the SDK even without a filter hook (its AbortSignal must fire).
  void notifyComplete() { notify_complete_ = true; }
  // The environment died (watchdog, heap): answers the stream (500, or a reset once the response went
  // downstream) unless it is over. True (the stream is answered or over).
  bool abandon();
  // The direction's hook did not settle (or its 'stop' was not continued) in time (the SDK's timer):
  // answers with the config's timeout status. False when there was nothing to time out.
  bool timeOut(contract::Direction direction);
  // An unexpected C++ failure in a hook: fail the stream as a failed JS hook would. True when answered.
  bool failUnexpectedly(contract::Direction direction) { return fail(direction); }

  // Bodies (binding/body.cc).
  contract::BodyReadState setBodyMode(contract::Direction direction, contract::BodyMode mode);
  // Where the bytes of a body part are in Envoy's buffers: valid until Envoy's body changes, so use it
  // within the same synchronous call. W.
  struct BodyView {
    std::vector<nv_envoy_buffer> pieces;
    uint64_t size = 0;
    void copyTo(char* out) const;
  };
  // Points *out at the bytes of `part` (appended to what it holds); false (with *why) when they
  // cannot be read now. Counts the bytes as copied to JS (the caller copies them out once).
  bool readBody(contract::Direction direction, contract::BodyPart part, BodyView* out, std::string* why);
  // Rewrites `part`; keeps content-length right while the headers are held. False with *why.
  bool writeBody(contract::Direction direction, contract::BodyPart part, contract::BodyWrite write,
                 const std::string& data, std::string* why);

  // ---- W: identity and plumbing ----
  nv_filter_envoy_ptr envoyFilter() const { return filter_envoy_; }
  WorkerEnv& env() const { return *env_; }
  const FilterConfig& config() const { return *config_; }
  FilterInstance* instance() const { return instance_; }  // W: for events outside the hook table (callouts)
  uint64_t id() const { return id_; }
  uint32_t slot() const { return entry_.slot; }
  uint32_t generation() const { return entry_.generation; }
  double token() const { return entry_.token(); }
  nv_scheduler_ptr scheduler() const { return scheduler_; }  // W, or A under the env's mutex
  void clearScheduler() { scheduler_ = nullptr; }
  bool waiting() const { return waiting_; }
  void setWaiting(bool waiting) { waiting_ = waiting; }
  // Data-path counters (tests read them to prove laziness).
  void countCrossing() { crossings_++; }
  void countBytes(uint64_t n) { bytes_copied_ += n; }
  uint64_t crossings() const { return crossings_; }
  uint64_t bytesCopied() const { return bytes_copied_; }

  // The stream whose filter could not be created: its request gets a 500 instead of Envoy <= 1.39
  // crashing on a null filter.
  static Stream* failedSentinel() { return &failed_sentinel_; }
  bool isFailedSentinel() const { return this == &failed_sentinel_; }

 private:
  enum class Outcome { Go, Hold, Answered };

  DirectionState& state(contract::Direction direction) {
    return direction == contract::Direction::Request ? request_ : response_;
  }
  bool implements(int kind) const;
  static int bodyHook(contract::Direction direction) {
    return direction == contract::Direction::Request ? contract::kRequestBody : contract::kResponseBody;
  }
  static int trailersHook(contract::Direction direction) {
    return direction == contract::Direction::Request ? contract::kRequestTrailers : contract::kResponseTrailers;
  }
  bool wantsBodyFrames(contract::Direction direction) const;
  // Runs a hook in JS and returns its action, with Pending resolved at once when the promise
  // settled during the microtask drain.
  int runHook(int kind, bool end_of_stream);
  // What a hook's action means for its direction; moves the phase.
  Outcome resolve(contract::Direction direction, int action);
  // The filter failed: answers (500, or a reset once the response headers went downstream) unless
  // failOpen. Returns true when the stream was answered.
  bool fail(contract::Direction direction);
  void hold(DirectionState& d, int kind);
  void goOn(DirectionState& d);
  void applyMailbox(contract::Direction direction);
  // Delivers what arrived while the direction was held (body chunk, trailers) to the filter's hooks;
  // Go when the direction can continue now.
  Outcome catchUp(contract::Direction direction);
  // The whole-body read can complete: BodyEnd to the SDK (once).
  void deliverBodyEnd(contract::Direction direction);
  void postResume();
  void syncWaiting();
  void ensureScheduler();
  // Envoy's body sizes for the direction.
  uint64_t bufferedSize(contract::Direction direction) const;
  uint64_t receivedSize(contract::Direction direction) const;
  bool appendBody(nv_body_type type, const char* data, size_t size);
  bool drainBody(nv_body_type type, uint64_t size);
  void viewBody(nv_body_type type, uint64_t from, BodyView* out) const;
  void copyBody(nv_body_type type, uint64_t from, std::string* out) const;
  bool receivedIsBuffered(contract::Direction direction) const;
  // After a body write: content-length follows while the headers are held.
  bool fixContentLength(contract::Direction direction, uint64_t old_total, uint64_t new_total, std::string* why);

  WorkerEnv* env_ = nullptr;
  std::shared_ptr<FilterConfig> config_;
  FilterInstance* instance_ = nullptr;
  nv_filter_envoy_ptr filter_envoy_ = nullptr;
  StreamTable::Entry entry_;
  static Stream failed_sentinel_;  // what Envoy holds for a stream whose filter could not be made
  uint64_t id_ = 0;
  nv_scheduler_ptr scheduler_ = nullptr;
  DirectionState request_, response_;
  bool alive_ = false;
  bool replied_ = false;
  bool complete_ = false;
  bool notify_complete_ = false;
  bool resume_posted_ = false;
  bool waiting_ = false;  // in the environment's waiting set
  mutable bool callouts_used_ = false;  // has an entry in the callout table (callouts.cc)
  uint64_t crossings_ = 0;
  uint64_t bytes_copied_ = 0;
};

}  // namespace nodevoy
