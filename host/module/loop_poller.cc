#include "loop_poller.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "envoy_api.h"
#include "node_runtime.h"
#include "stream.h"
#include "worker_env.h"

namespace nodevoy {

namespace {

int64_t nowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

void LoopPoller::initKeepalive(uv_loop_t* loop) {
  loop_ = loop;
  uv_async_init(loop_, &keepalive_, [](uv_async_t*) {});
  uv_unref(reinterpret_cast<uv_handle_t*>(&keepalive_));
  poke_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

void LoopPoller::closeKeepalive() {
  if (loop_ != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(&keepalive_), nullptr);
}

void LoopPoller::start() { thread_ = std::thread([this] { run(); }); }

void LoopPoller::stop() {
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) return;  // never join ourselves
  stopping_ = true;
  poke();
  env_.state_cv_.notify_all();
  thread_.join();
  if (poke_fd_ >= 0) close(poke_fd_);
  poke_fd_ = -1;
}

void LoopPoller::poke() {
  if (poke_fd_ < 0) return;
  uint64_t one = 1;
  (void)!write(poke_fd_, &one, sizeof(one));
}

void LoopPoller::publish(bool streams_waiting) {
  // The keepalive holds the loop while streams wait on it, so unref'd timers still fire for them;
  // always in the environment with the inspector, so its messages are dispatched while idle.
  const bool keep = streams_waiting || isInspectedEnv(env_.index());
  if (keep != keepalive_ref_) {
    keepalive_ref_ = keep;
    if (keep) {
      uv_ref(reinterpret_cast<uv_handle_t*>(&keepalive_));
    } else {
      uv_unref(reinterpret_cast<uv_handle_t*>(&keepalive_));
    }
  }
  const bool alive = uv_loop_alive(loop_) != 0;
  if (!alive && !loop_alive_.load(std::memory_order_relaxed)) return;  // idle before and after
  // The loop's clock only advances in uv_run; refresh it so the timeout counts from now.
  if (alive) uv_update_time(loop_);
  const int timeout = alive ? uv_backend_timeout(loop_) : -1;
  const int64_t deadline = timeout < 0 ? -1 : nowMs() + timeout;
  const int64_t previous = next_deadline_ms_.exchange(deadline);
  const bool was_alive = loop_alive_.exchange(alive);
  if (alive && (!was_alive || previous < 0 || (deadline >= 0 && deadline < previous))) poke();
}

void LoopPoller::run() {
  const int backend_fd = uv_backend_fd(loop_);
  while (!stopping_) {
    if (env_.dead()) {
      // The environment can run no JS: wake the worker through every waiting stream so it answers
      // them (Stream::abandon), then only wait to be stopped.
      {
        std::lock_guard<std::mutex> lock(env_.state_mutex_);
        for (Stream* stream : env_.waiting_) {
          if (stream->scheduler() != nullptr) envoy.http_filter_scheduler_commit(stream->scheduler(), contract::kEventPump);
        }
      }
      struct pollfd fd{poke_fd_, POLLIN, 0};
      while (!stopping_) {
        if (poll(&fd, 1, -1) > 0) {
          uint64_t value;
          (void)!read(poke_fd_, &value, sizeof(value));
        }
      }
      break;
    }
    int timeout = -1;
    if (loop_alive_.load()) {
      const int64_t deadline = next_deadline_ms_.load();
      if (deadline >= 0) timeout = static_cast<int>(std::max<int64_t>(0, deadline - nowMs()));
    }
    if (env_.tasks_pending_.load()) timeout = 0;
    struct pollfd fds[2] = {{backend_fd, POLLIN, 0}, {poke_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, timeout);
    if (stopping_) break;
    if (fds[1].revents & POLLIN) {
      uint64_t value;
      (void)!read(poke_fd_, &value, sizeof(value));
    }
    const bool io = ready > 0 && (fds[0].revents & POLLIN);
    const bool timer_due = ready == 0 && timeout >= 0;
    if (!io && !timer_due) {
      if (!env_.tasks_pending_.load()) continue;
      if (env_.tryAcquireOther()) {
        env_.runAsOther(nullptr, false);
      } else {
        usleep(1000);  // the worker holds the isolate: it runs the tasks at its next hook or leave
      }
      continue;
    }
    // The loop has work. Run it here only when no stream waits on it and nobody holds the isolate.
    if (env_.tryAcquireForLoop()) {
      env_.runAsOther(nullptr, true);
      continue;
    }
    // Otherwise the worker must run it: wake it through a stream waiting on async work, or ask it to
    // let the isolate go at the end of its next hook. Then wait for the loop to have run.
    std::unique_lock<std::mutex> lock(env_.state_mutex_);
    const uint64_t generation = env_.pump_generation_;
    Stream* target = nullptr;
    for (Stream* stream : env_.waiting_) {
      if (stream->scheduler() != nullptr) {
        target = stream;
        break;
      }
    }
    if (target != nullptr) {
      // Under the mutex: the stream's scheduler cannot be deleted meanwhile (WorkerEnv::finishDestroy).
      envoy.http_filter_scheduler_commit(target->scheduler(), contract::kEventPump);
      env_.state_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
        return stopping_ || env_.pump_generation_ != generation || env_.waiting_.empty();
      });
    } else {
      if (env_.holder_ == WorkerEnv::Holder::Worker) env_.release_requested_ = true;
      env_.state_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
        return stopping_ || env_.pump_generation_ != generation || env_.holder_ == WorkerEnv::Holder::None ||
               !env_.waiting_.empty();
      });
    }
  }
}

}  // namespace nodevoy
