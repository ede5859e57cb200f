// libnodevoy's runtime model (shared/DESIGN.md): Node initialised once per process, one Node
// environment per Envoy worker, JS run synchronously on that worker. The worker keeps the isolate
// locked while it has streams ("sticky lock") so a hook costs no v8::Locker; other threads (the main
// thread for configs, each environment's loop poller) take the isolate only when the worker has let
// it go, and otherwise wake the worker through a waiting stream's scheduler.
#pragma once

#include <pthread.h>
#include <uv.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <node.h>
#include <v8.h>

#include "nodevoy_envoy_abi.h"

namespace nodevoy {

class WorkerEnv;
class FilterConfig;

// Hook kinds shared with the SDK runtime (sdk/native.ts). Bits of FilterInstance::hooks.
enum HookKind : int {
  kRequestHeaders = 1,
  kRequestBody = 2,
  kRequestTrailers = 3,
  kResponseHeaders = 4,
  kResponseBody = 5,
  kResponseTrailers = 6,
  kStreamComplete = 7,
};

// What the SDK runtime's dispatch returns. Envoy status values are returned as-is (>= 0).
constexpr int kResultPending = -1;  // an async hook is still running; binding.resume() follows
constexpr int kResultError = -2;    // the hook threw or rejected (already logged)
constexpr int kResultReplied = -3;  // the hook sent a local reply

// Scheduler event ids (on_http_filter_scheduled).
constexpr uint64_t kEventResume = 1;  // an async hook settled
constexpr uint64_t kEventPump = 2;    // the environment's event loop has work

// One filter config's instance inside one environment (the SDK's per-config filter object).
struct FilterInstance {
  v8::Global<v8::Function> dispatch;  // (kind, token, endOfStream) => number
  v8::Global<v8::Function> dispose;   // () => void, when the config goes away; may be empty
  uint32_t hooks = 0;                  // bit (1 << kind) set when the filter implements that hook
  // Lock holder of env's isolate: tells the filter its config is gone (onDestroy), then drops it.
  void release(WorkerEnv& env);
};

// The per-stream record; its address is the filter_module_ptr Envoy hands back.
struct StreamRecord {
  static constexpr uint32_t kMaxStreams = 65536;  // concurrent streams per worker
  WorkerEnv* env = nullptr;
  std::shared_ptr<FilterConfig> config;
  FilterInstance* instance = nullptr;
  nv_filter_envoy_ptr filter_envoy = nullptr;
  uint32_t slot = 0;
  uint32_t generation = 0;
  bool alive = false;
  uint64_t stream_id = 0;
  // Async hooks.
  nv_scheduler_ptr scheduler = nullptr;
  int running_kind = 0;     // hook currently on the stack for this stream, 0 when none
  int pending_kind = 0;     // hook awaiting its promise, 0 when none
  bool result_ready = false;
  int result = 0;           // status (or kResult*) from binding.resume()
  bool waiting = false;     // in the environment's waiting set (worker thread's view)
  bool destroy_pending = false;  // destroyed while JS was on the stack: finished when it unwinds
  bool replied = false;     // a local reply was sent for this stream
  bool resume_posted = false;
  // Data-path counters (tests read them to prove laziness).
  uint64_t crossings = 0;
  uint64_t bytes_copied = 0;

  double token() const { return static_cast<double>(generation) * kMaxStreams + slot; }
};

// Process-wide: Node/V8 initialisation and the environments.
class NodeRuntime {
 public:
  static NodeRuntime& instance();

  // Main thread. Initialises Node and V8 once per process.
  bool initialize(std::string* error);
  // Main thread. Makes sure environment i exists for every worker index i < count.
  bool ensureEnvs(uint32_t count, std::string* error);
  // Worker thread: the environment of a worker index (created at config time), or null.
  WorkerEnv* env(uint32_t worker_index);
  uint32_t envCount() const { return static_cast<uint32_t>(envs_.size()); }
  // Main thread: tears every environment down (no config left).
  void destroyEnvs();
  node::MultiIsolatePlatform* platform() { return platform_.get(); }
  const std::vector<std::string>& args() const { return args_; }
  const std::vector<std::string>& execArgs() const { return exec_args_; }

  std::atomic<uint32_t> live_configs{0};

 private:
  std::unique_ptr<node::MultiIsolatePlatform> platform_;
  std::unique_ptr<node::InitializationResult> init_;
  std::vector<std::string> args_, exec_args_;
  std::vector<std::unique_ptr<WorkerEnv>> envs_;
  bool initialized_ = false;
};

class WorkerEnv {
 public:
  // Main thread: creates the Node environment and runs the bootstrap.
  static std::unique_ptr<WorkerEnv> create(uint32_t index, std::string* error);
  // Main thread: stops the poller and frees the environment (the worker must have let it go).
  ~WorkerEnv();

  uint32_t index() const { return index_; }
  v8::Isolate* isolate() const { return isolate_; }
  v8::Local<v8::Context> context() const { return context_.Get(isolate_); }

  // ---- Worker thread ----
  // Adopts the environment for the calling worker thread (first stream) and checks later callers.
  bool adopt();
  StreamRecord* newStream(std::shared_ptr<FilterConfig> config, FilterInstance* instance, nv_filter_envoy_ptr fe);
  void destroyStream(StreamRecord* record);
  // Entering and leaving nest (a hook can run inside another: Envoy calls stream_complete inline
  // from send_response). The outermost enter locks the isolate if the worker does not hold it and
  // runs queued tasks; drainIfOutermost runs nextTicks and microtasks; the outermost leave finishes
  // streams destroyed meanwhile, tells the poller about timers, and lets the isolate go when the
  // worker has no stream left or another thread asked for it.
  void enterFromWorker();
  void drainIfOutermost();
  void leaveFromWorker();
  // Worker thread, inside on_http_filter_scheduled: runs the event loop once.
  void pumpFromWorker();
  bool workerHoldsLock() const { return worker_locker_ != nullptr; }
  pthread_t workerThread() const { return worker_thread_; }
  bool onWorkerThread() const { return adopted_ && pthread_equal(pthread_self(), worker_thread_); }

  // Streams waiting on an async hook register their scheduler so the poller can wake the worker.
  void addWaiting(StreamRecord* record);
  void removeWaiting(StreamRecord* record);

  // ---- Any thread ----
  // Runs task with the isolate locked: now on this thread if nobody holds it, else by the worker at
  // its next hook. Returns true when it ran now.
  bool runOrQueue(std::function<void()> task);
  // Main thread, for environments no worker adopts (the config environment): waits and runs now.
  void runBlocking(const std::function<void()>& task);

  // JS → native lookups (binding.cc). Worker or lock holder.
  StreamRecord* lookup(double token);
  // Runs nextTicks then microtasks until both are empty (the lock holder).
  void drainTicksAndMicrotasks();
  void setTickHooks(v8::Local<v8::Function> process_ticks, v8::Local<v8::Int32Array> tick_flag);
  // The bootstrap's runtime object ({load, instantiate, ...}), set by binding.setup().
  v8::Local<v8::Object> runtimeObject() const { return runtime_.Get(isolate_); }
  void setRuntimeObject(v8::Local<v8::Object> runtime) { runtime_.Reset(isolate_, runtime); }
  bool hasRuntimeObject() const { return !runtime_.IsEmpty(); }

  std::atomic<uint64_t> stream_ids{0};
  // Shared with JS as a Uint32Array: the live generation of each slot (0 = free), so the SDK can
  // check a stream is alive without crossing into native code.
  uint32_t* livenessTable() { return liveness_.data(); }

 private:
  explicit WorkerEnv(uint32_t index) : index_(index) {}
  void startPoller();
  void stopPoller();
  void pollerMain();
  bool tryAcquireOther();
  bool tryAcquireForLoop();
  void releaseOther();
  void runAsOther(const std::function<void()>& task, bool run_loop);
  void runQueuedTasks();
  void publishLoopState();
  void releaseFromWorker();
  void finishDestroy(StreamRecord* record);
  // Lock holder: keeps the loop "alive" while streams wait on it, so unref'd timers
  // (AbortSignal.timeout, timer.unref()) still fire for them.
  void syncKeepalive();

  uint32_t index_;
  std::unique_ptr<node::CommonEnvironmentSetup> setup_;
  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Object> runtime_;
  v8::Global<v8::Function> process_ticks_;
  v8::Global<v8::Int32Array> tick_flag_;
  int32_t* tick_flag_data_ = nullptr;  // [0] != 0 when nextTick queued work
  uv_loop_t* loop_ = nullptr;

  // Worker side (touched only by the adopted worker thread).
  bool adopted_ = false;
  pthread_t worker_thread_{};
  v8::Locker* worker_locker_ = nullptr;
  std::deque<StreamRecord> records_;
  std::vector<uint32_t> liveness_ = std::vector<uint32_t>(StreamRecord::kMaxStreams, 0);
  std::vector<uint32_t> free_slots_;
  uint32_t live_streams_ = 0;
  int depth_ = 0;  // nesting of enterFromWorker
  std::vector<StreamRecord*> deferred_destroys_;
  uv_async_t keepalive_{};
  bool keepalive_ref_ = false;
  std::atomic<int> waiting_count_{0};  // size of waiting_, readable without state_mutex_

  // Shared state.
  enum class Holder { None, Worker, Other };
  std::mutex state_mutex_;
  std::condition_variable state_cv_;
  Holder holder_ = Holder::None;
  std::vector<std::function<void()>> tasks_;
  std::atomic<bool> tasks_pending_{false};
  std::atomic<bool> release_requested_{false};
  std::unordered_set<StreamRecord*> waiting_;  // guarded by state_mutex_
  uint64_t pump_generation_ = 0;              // guarded by state_mutex_: bumps when the loop ran

  // Poller.
  std::thread poller_;
  std::atomic<bool> stopping_{false};
  int poke_fd_ = -1;
  std::atomic<int64_t> next_deadline_ms_{-1};  // absolute uv time of the next timer, -1 none
  std::atomic<bool> loop_alive_{false};
};

}  // namespace nodevoy
