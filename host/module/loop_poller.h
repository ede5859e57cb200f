// The loop poller of one environment: a thread (P) that waits, without the isolate, for the
// environment's libuv loop to have work — I/O on its backend fd or a due timer — and then makes the
// lock holder run it: the worker, through a waiting stream's scheduler, or itself when nobody holds
// the isolate and no stream waits on the loop (a waiting stream's continuations must run on its
// worker). Also owns the keepalive handle that keeps the loop alive while streams wait, so unref'd
// timers (AbortSignal.timeout, timer.unref()) still fire for them.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace nodevoy {

class WorkerEnv;

class LoopPoller {
 public:
  explicit LoopPoller(WorkerEnv& env) : env_(env) {}
  ~LoopPoller() { stop(); }

  // L, once, at environment creation: the keepalive handle (unref'd).
  void initKeepalive(uv_loop_t* loop);
  // L, before the environment is freed.
  void closeKeepalive();
  // M: starts the thread.
  void start();
  // A (not P): stops and joins the thread; idempotent.
  void stop();
  // A: wakes the thread to re-check (queued tasks, a released isolate, a new deadline).
  void poke();
  // L: tells the thread when the next timer is due and whether the loop has anything to do, and
  // syncs the keepalive with whether streams wait.
  void publish(bool streams_waiting);

 private:
  void run();

  WorkerEnv& env_;
  uv_loop_t* loop_ = nullptr;
  uv_async_t keepalive_{};
  bool keepalive_ref_ = false;  // L
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int poke_fd_ = -1;
  std::atomic<int64_t> next_deadline_ms_{-1};  // absolute monotonic ms of the next timer, -1 none
  std::atomic<bool> loop_alive_{false};
};

}  // namespace nodevoy
