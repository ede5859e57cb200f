#include "dispatcher.h"

#include <event2/event.h>
#include <event2/thread.h>

#include "log.h"

namespace devhost {

Dispatcher::Dispatcher(const char* name) : name_(name) {
  base_ = event_base_new();
  post_event_ = event_new(base_, -1, 0, &Dispatcher::onPost, this);
  deferred_event_ = event_new(base_, -1, 0, &Dispatcher::onDeferred, this);
}

Dispatcher::~Dispatcher() {
  drainDeferred();
  event_free(post_event_);
  event_free(deferred_event_);
  event_base_free(base_);
}

void Dispatcher::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    posts_.push_back(std::move(fn));
    if (posts_.size() > 1) return;  // already activated
  }
  event_active(post_event_, 0, 0);  // thread-safe: the base was made notifiable by evthread
}

void Dispatcher::deferredDelete(std::unique_ptr<DeferredDeletable> object) {
  deferred_.push_back(std::move(object));
  if (deferred_.size() == 1) event_active(deferred_event_, 0, 0);
}

void Dispatcher::run() {
  thread_ = pthread_self();
  running_ = true;
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  drainDeferred();
  running_ = false;
}

void Dispatcher::exit() {
  post([this] { event_base_loopbreak(base_); });
}

void Dispatcher::onPost(int, short, void* arg) { static_cast<Dispatcher*>(arg)->drainPosts(); }

void Dispatcher::onDeferred(int, short, void* arg) { static_cast<Dispatcher*>(arg)->drainDeferred(); }

void Dispatcher::drainPosts() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(post_mutex_);
    batch.swap(posts_);
  }
  for (auto& fn : batch) fn();
}

void Dispatcher::drainDeferred() {
  // Deleting may defer more objects; loop until quiet.
  while (!deferred_.empty()) {
    std::vector<std::unique_ptr<DeferredDeletable>> batch;
    batch.swap(deferred_);
    batch.clear();
  }
}

Timer::Timer(Dispatcher& dispatcher, std::function<void()> cb) : cb_(std::move(cb)) {
  event_ = evtimer_new(dispatcher.base(), &Timer::onFire, this);
}

Timer::~Timer() { event_free(event_); }

void Timer::enable(uint64_t ms) {
  struct timeval tv;
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  evtimer_add(event_, &tv);
}

void Timer::disable() { evtimer_del(event_); }

bool Timer::enabled() const { return evtimer_pending(event_, nullptr) != 0; }

void Timer::onFire(int, short, void* arg) {
  auto* timer = static_cast<Timer*>(arg);
  timer->cb_();
}

}  // namespace devhost
