// One event loop per thread (main and each worker), like Envoy's Dispatcher: cross-thread posts,
// timers and deferred deletion after the current event callback returns.
#pragma once

#include <pthread.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

struct event_base;
struct event;

namespace devhost {

class DeferredDeletable {
 public:
  virtual ~DeferredDeletable() = default;
};

class Dispatcher {
 public:
  // Thread that will run the loop. name is for logs.
  explicit Dispatcher(const char* name);
  ~Dispatcher();

  event_base* base() const { return base_; }
  const char* name() const { return name_; }

  // Any thread. fn runs on this dispatcher's thread: in its loop, or in flush() after the loop.
  void post(std::function<void()> fn);
  // Own thread. Deletes the object after the current event callback has returned.
  void deferredDelete(std::unique_ptr<DeferredDeletable> object);
  // Own thread: runs the loop until exit() is called.
  void run();
  // Any thread.
  void exit();
  // True when called on the thread running this dispatcher.
  bool isThreadSafe() const { return running_ && pthread_equal(pthread_self(), thread_); }
  bool running() const { return running_; }
  // Own thread, after run() returned: runs what is still queued (teardown).
  void flush() {
    drainPosts();
    drainDeferred();
  }

 private:
  static void onPost(int, short, void* arg);
  static void onDeferred(int, short, void* arg);
  void drainPosts();
  void drainDeferred();

  const char* name_;
  event_base* base_ = nullptr;
  event* post_event_ = nullptr;
  event* deferred_event_ = nullptr;
  std::mutex post_mutex_;
  std::vector<std::function<void()>> posts_;
  std::vector<std::unique_ptr<DeferredDeletable>> deferred_;
  std::atomic<bool> running_{false};
  pthread_t thread_{};
};

// A one-shot or re-armable timer on a dispatcher. Own thread only.
class Timer {
 public:
  Timer(Dispatcher& dispatcher, std::function<void()> cb);
  ~Timer();
  void enable(uint64_t ms);
  void disable();
  bool enabled() const;

 private:
  static void onFire(int, short, void* arg);
  event* event_;
  std::function<void()> cb_;
};

}  // namespace devhost
