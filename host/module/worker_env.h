// One Node environment and the worker that owns it. JS of an environment runs under its isolate lock;
// the lock holder is one of (legend, as in nodevoy_envoy_abi.h plus two of ours):
//   W = the Envoy worker that adopted the environment (its streams live here),
//   M = Envoy's main thread (config loads into a free isolate), P = the environment's loop poller,
//   L = whichever of those holds the isolate lock now.
// The worker keeps the isolate locked while it has streams, and between streams while the loop has
// nothing ref'd to run ("sticky lock": a hook then costs no v8::Locker); other threads take the
// isolate only when the worker has let it go, and otherwise queue their work for the worker (which
// lets go at its next leave) or wake it through a waiting stream's scheduler.
#pragma once

#include <pthread.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include <node.h>
#include <v8.h>

#include "envoy_api.h"
#include "loop_poller.h"
#include "stream_table.h"
#include "watchdog.h"

namespace nodevoy {

class FilterConfig;
struct FilterInstance;
class Stream;

class WorkerEnv {
 public:
  static constexpr uint32_t kConfigEnvIndex = UINT32_MAX;  // the validation environment

  // M. Creates the Node environment, runs the bootstrap, starts the loop poller.
  static std::unique_ptr<WorkerEnv> create(uint32_t index, std::string* error);
  ~WorkerEnv();

  uint32_t index() const { return index_; }
  v8::Isolate* isolate() const { return isolate_; }
  v8::Local<v8::Context> context() const { return context_.Get(isolate_); }
  uv_loop_t* loop() const { return loop_; }

  // ---- W: streams ----
  // Adopts the environment for the calling worker (first stream) and checks later callers.
  bool adopt();
  bool onWorkerThread() const { return adopted_ && pthread_equal(pthread_self(), worker_thread_); }
  Stream* newStream(std::shared_ptr<FilterConfig> config, FilterInstance* instance, void* filter_envoy);
  // Envoy destroyed the stream's filter: gone for JS at once; freed when JS unwinds.
  void destroyStream(Stream* stream);
  // The live stream a token names, or null. W (or L for the binding's checks).
  Stream* lookup(double token);
  uint32_t* livenessTable() { return table_.liveness(); }
  std::atomic<uint64_t> stream_ids{0};
  // W: the buffers a header-map read fills (binding/headers.cc), kept for reuse. A member rather than
  // a thread_local: every use of a dlopen'ed library's thread_local is a __tls_get_addr call.
  struct HeaderScratch {
    std::vector<nv_envoy_header> headers;
    std::string joined;
  };
  HeaderScratch& headerScratch() { return header_scratch_; }

  // ---- W: entering JS ----
  // Entering and leaving nest (a hook can run inside another: Envoy runs stream_complete inline
  // from send_response). The outermost enter locks the isolate if the worker does not hold it and
  // runs queued tasks; drainIfOutermost runs nextTicks and microtasks; the outermost leave runs
  // tasks queued meanwhile, frees streams destroyed meanwhile, tells the poller about the loop, and
  // lets the isolate go when another thread asked for it or no stream is left and the loop has
  // ref'd work (shouldLetGo).
  void enterFromWorker();
  void drainIfOutermost();
  void leaveFromWorker();
  bool inJs() const { return depth_ > 0; }
  // Whether drainIfOutermost() would drain now (not nested inside other JS of this environment).
  bool canDrain() const { return depth_ == 1; }
  // W, inside on_http_filter_scheduled: runs the event loop once (never a dead environment's).
  void pumpFromWorker();

  // W. Streams with a held direction register so the poller wakes the worker (their
  // continuations must run on it) instead of running the loop itself.
  void addWaiting(Stream* stream);
  void removeWaiting(Stream* stream);

  // ---- A: work for the isolate ----
  // Runs task with the isolate locked: now on this thread when that is safe (the worker outside JS,
  // or a free isolate and a thread not already inside some JS), else queued for the lock holder
  // (the worker at its next hook or leave, or the poller once the isolate is free).
  void runOrQueue(std::function<void()> task);
  // M, for the validation environment (no worker adopts it): waits for the isolate and runs now.
  void runBlocking(const std::function<void()>& task);

  // ---- L ----
  void drainTicksAndMicrotasks();
  void setTickHooks(v8::Local<v8::Function> process_ticks, v8::Local<v8::Int32Array> tick_flag);
  v8::Local<v8::Object> runtimeObject() const { return runtime_.Get(isolate_); }
  void setRuntimeObject(v8::Local<v8::Object> runtime) { runtime_.Reset(isolate_, runtime); }
  bool hasRuntimeObject() const { return !runtime_.IsEmpty(); }

  // A. Stops the poller (process exit).
  void stopPoller() { poller_.stop(); }

  // ---- The sandbox (watchdog.h, node_runtime.h) ----
  // A: the environment cannot run JS any more (a Node callback overran its CPU budget, or the heap
  // ran out): its streams are failed, and its worker replaces it with a fresh one.
  bool dead() const { return watchdog_slot_ != nullptr && watchdog_slot_->env_stopped.load(std::memory_order_acquire); }
  // L: the CPU budget of the JS run in progress (nested runs keep the outer budget's start).
  Watchdog::Slot* watchdogSlot() const { return watchdog_slot_; }
  uint32_t liveStreams() const { return table_.live(); }
  // W: the worker lets this (dead) environment's isolate go, so it never holds two environments'
  // isolates at once (V8 isolate entry must nest): done before its replacement is made.
  void releaseForRebuild() {
    if (onWorkerThread() && depth_ == 0) releaseFromWorker();
  }
  // W: frees the dead environment's resources once it has no live stream (NodeRuntime retires it).
  bool retirable() const { return dead() && table_.live() == 0 && depth_ == 0; }
  // Instances of configs, made in this environment, that must be released with its isolate.
  void keepOrphan(std::unique_ptr<FilterInstance> instance);

 private:
  HeaderScratch header_scratch_;
  friend class LoopPoller;
  explicit WorkerEnv(uint32_t index);

  static size_t nearHeapLimit(void* data, size_t current_limit, size_t initial_limit);
  // L: the drain's JS was stopped by the watchdog (`what` ran over budget).
  void drainStopped(const char* what);
  // Lock transitions.
  bool tryAcquireOther();
  bool tryAcquireForLoop();
  void releaseOther();
  void runAsOther(const std::function<void()>& task, bool run_loop);
  void runQueuedTasks();
  void releaseFromWorker();
  // W, outside JS: whether the worker should let the isolate go now (else it keeps it: sticky lock).
  bool shouldLetGo() const;
  void queueTask(std::function<void()> task);
  void finishDestroy(Stream* stream);
  // L: whether some stream waits on the loop (for the keepalive handle).
  bool anyWaiting() const { return waiting_count_.load(std::memory_order_relaxed) > 0; }

  const uint32_t index_;
  std::unique_ptr<node::CommonEnvironmentSetup> setup_;
  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Object> runtime_;
  v8::Global<v8::Function> process_ticks_;
  v8::Global<v8::Int32Array> tick_flag_;
  int32_t* tick_flag_data_ = nullptr;  // [0] != 0 when nextTick queued work
  uv_loop_t* loop_ = nullptr;

  // W only.
  bool adopted_ = false;
  pthread_t worker_thread_{};
  v8::Locker* worker_locker_ = nullptr;
  StreamTable table_;
  std::vector<std::unique_ptr<Stream>> streams_;  // by slot
  int depth_ = 0;  // nesting of enterFromWorker
  std::vector<Stream*> deferred_destroys_;

  // Shared, guarded by state_mutex_.
  enum class Holder { None, Worker, Other };
  std::mutex state_mutex_;
  std::condition_variable state_cv_;
  Holder holder_ = Holder::None;
  std::unordered_set<Stream*> waiting_;
  uint64_t pump_generation_ = 0;  // bumps when the worker ran the loop
  std::atomic<int> waiting_count_{0};  // size of waiting_, readable without the mutex
  std::atomic<bool> release_requested_{false};

  // Tasks for the lock holder, guarded by tasks_mutex_ (never held while taking state_mutex_, so a
  // thread inside an Envoy call made under state_mutex_ can still queue).
  std::mutex tasks_mutex_;
  std::vector<std::function<void()>> tasks_;
  std::atomic<bool> tasks_pending_{false};

  LoopPoller poller_;
  Watchdog::Slot* watchdog_slot_ = nullptr;
  std::vector<std::unique_ptr<FilterInstance>> orphans_;  // W/M; released in the destructor
  std::deque<int64_t> drain_stops_;  // L: watchdog ticks of recent drain stops
};

// A: how deep the calling thread is inside JS of any environment (tasks are queued, never run
// nested inside another environment's or another hook's JS).
int threadJsDepth();

}  // namespace nodevoy
