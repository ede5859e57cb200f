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
// While a direction is Pending or Stopped it is held: its later body frames and trailers are held
// by Envoy (with flow control) without a JS crossing, and Envoy is owed one continue.
//
// Threads (legend in worker_env.h): everything here runs on the stream's worker (W), with the
// environment entered for the methods that run JS. Other threads touch a Stream only through its
// scheduler, and only while it is in the environment's waiting set (guarded by the env's mutex).
#pragma once

#include <cstdint>
#include <memory>

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
    bool end_seen = false;        // the direction's end of stream arrived
    bool headers_passed = false;  // its headers went on to later filters (response: downstream)
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

  // ---- W: Envoy's hooks (hooks.cc), the environment entered when JS may run ----
  nv_headers_status onHeaders(contract::HookKind kind, bool end_of_stream);
  nv_body_status onBody(contract::HookKind kind, bool end_of_stream);
  nv_trailers_status onTrailers(contract::HookKind kind);
  void onComplete();
  void onScheduled(uint64_t event_id);
  // Whether a hook needs the environment entered (JS may run). False on the fast paths.
  bool needsJs(contract::HookKind kind) const;

  // ---- W: from the binding (JS on the worker) ----
  // A hook of `direction` that went Pending settled with `action`.
  void settle(contract::Direction direction, int action);
  // continueRequest()/continueResponse().
  void continueDirection(contract::Direction direction);
  // A local reply was accepted for this stream (before calling Envoy's send_response).
  void markReplied() { replied_ = true; }
  bool replied() const { return replied_; }
  // stream_complete has begun: the response is over; writes are refused.
  bool complete() const { return complete_; }
  // An unexpected C++ failure in a hook: fail the stream as a failed JS hook would. True when answered.
  bool failUnexpectedly(contract::Direction direction) { return fail(direction); }
  bool alive() const { return alive_; }

  // ---- W: identity and plumbing ----
  nv_filter_envoy_ptr envoyFilter() const { return filter_envoy_; }
  WorkerEnv& env() const { return *env_; }
  const FilterConfig& config() const { return *config_; }
  uint64_t id() const { return id_; }
  uint32_t slot() const { return entry_.slot; }
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
  static Stream* failedSentinel();
  bool isFailedSentinel() const { return this == failedSentinel(); }

 private:
  enum class Outcome { Go, Hold, Answered };

  DirectionState& state(contract::Direction direction) {
    return direction == contract::Direction::Request ? request_ : response_;
  }
  bool implements(int kind) const;
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
  void postResume();
  void syncWaiting();
  void ensureScheduler();

  WorkerEnv* env_ = nullptr;
  std::shared_ptr<FilterConfig> config_;
  FilterInstance* instance_ = nullptr;
  nv_filter_envoy_ptr filter_envoy_ = nullptr;
  StreamTable::Entry entry_;
  uint64_t id_ = 0;
  nv_scheduler_ptr scheduler_ = nullptr;
  DirectionState request_, response_;
  bool alive_ = false;
  bool replied_ = false;
  bool complete_ = false;
  bool resume_posted_ = false;
  bool waiting_ = false;  // in the environment's waiting set
  uint64_t crossings_ = 0;
  uint64_t bytes_copied_ = 0;
};

}  // namespace nodevoy
