#include "worker_env.h"

#include "bootstrap.gen.h"
#include "envoy_api.h"
#include "filter_config.h"
#include "log.h"
#include "node_runtime.h"
#include "sandbox_stats.h"
#include "stream.h"
#include "watchdog.h"

namespace nodevoy {

void registerBinding(node::Environment* env, WorkerEnv* worker_env);  // binding/binding.cc

namespace {
thread_local int t_js_depth = 0;  // how deep this thread is inside JS of any environment
}  // namespace

int threadJsDepth() { return t_js_depth; }

// ---- Creation ------------------------------------------------------------------------------------

WorkerEnv::WorkerEnv(uint32_t index) : index_(index), poller_(*this) {}

std::unique_ptr<WorkerEnv> WorkerEnv::create(uint32_t index, std::string* error) {
  NodeRuntime& runtime = NodeRuntime::instance();
  std::unique_ptr<WorkerEnv> self(new WorkerEnv(index));
  std::vector<std::string> errors;
  auto flags = static_cast<node::EnvironmentFlags::Flags>(
      node::EnvironmentFlags::kNoGlobalSearchPaths |
      (isInspectedEnv(index) ? node::EnvironmentFlags::kOwnsInspector : node::EnvironmentFlags::kNoCreateInspector));
  self->setup_ = node::CommonEnvironmentSetup::Create(runtime.platform(), &errors, runtime.args(), runtime.execArgs(),
                                                      flags, node::AllocateEnvironmentThreadId());
  if (!self->setup_) {
    *error = "cannot create a Node environment";
    for (const auto& e : errors) *error += ": " + e;
    return nullptr;
  }
  self->isolate_ = self->setup_->isolate();
  self->loop_ = self->setup_->event_loop();
  {
    v8::Locker locker(self->isolate_);
    v8::Isolate::Scope isolate_scope(self->isolate_);
    v8::HandleScope handle_scope(self->isolate_);
    v8::Local<v8::Context> context = self->setup_->context();
    v8::Context::Scope context_scope(context);
    self->context_.Reset(self->isolate_, context);
    node::Environment* env = self->setup_->env();
    // The bootstrap replaces process.exit; this catches the paths inside Node that still exit.
    node::SetProcessExitHandler(env, [](node::Environment*, int code) {
      NV_ERROR("nodevoy: Node asked to exit the process (code %d); ignored (a filter cannot stop the proxy)", code);
    });
    registerBinding(env, self.get());
    self->poller_.initKeepalive(self->loop_);
    self->watchdog_slot_ = Watchdog::instance().add(self->isolate_, env);
    self->watchdog_slot_->on_stopped = [](void* data) { static_cast<WorkerEnv*>(data)->poller_.poke(); };
    self->watchdog_slot_->on_stopped_data = self.get();
    self->isolate_->AddNearHeapLimitCallback(nearHeapLimit, self.get());
    v8::TryCatch try_catch(self->isolate_);
    Watchdog& watchdog = Watchdog::instance();
    watchdog.begin(self->watchdog_slot_, Watchdog::Phase::Loop, watchdog.loopBudgetMs() * 10);
    const bool loaded = !node::LoadEnvironment(env, kBootstrapSource).IsEmpty();
    watchdog.end(self->watchdog_slot_);
    if (!loaded || self->runtime_.IsEmpty()) {
      v8::String::Utf8Value message(self->isolate_, try_catch.Exception());
      *error = std::string("the nodevoy bootstrap failed in the Node environment: ") + (*message ? *message : "?");
      (void)self->setup_.release();  // a half-made environment: left to the process exit
      return nullptr;
    }
    self->drainTicksAndMicrotasks();
    if (isInspectedEnv(index)) {
      // The inspector wakes this loop with uv_async_send, but an idle loop (every handle unref'd)
      // is never run, and libuv adds fds to its epoll set only when it runs. The poller keeps this
      // loop alive (publish); run it once, so debugger messages are dispatched before any traffic.
      self->poller_.publish(false);
      uv_run(self->loop_, UV_RUN_NOWAIT);
      self->poller_.publish(false);
    }
  }
  self->poller_.start();
  NV_DEBUG("nodevoy: Node environment %u ready", index);
  return self;
}

size_t WorkerEnv::nearHeapLimit(void* data, size_t current_limit, size_t initial_limit) {
  // On the thread running JS, inside an allocation: the heap is about to run out. Stop the
  // environment (its worker rebuilds it) and give V8 room to unwind instead of aborting the process.
  auto* self = static_cast<WorkerEnv*>(data);
  if (!self->watchdog_slot_->env_stopped.exchange(true)) {
    NV_ERROR("nodevoy: Node environment %u reached its heap limit (%zu MB); stopping it (its worker rebuilds it)",
             self->index_, current_limit >> 20);
    countSandboxEvent(SandboxEvent::HeapLimit);
    countSandboxEvent(SandboxEvent::EnvStopped);
    node::Stop(self->setup_->env());
    self->poller_.poke();
  }
  return current_limit + std::max<size_t>(initial_limit / 2, 64u << 20);
}

void WorkerEnv::keepOrphan(std::unique_ptr<FilterInstance> instance) { orphans_.push_back(std::move(instance)); }

WorkerEnv::~WorkerEnv() {
  poller_.stop();
  if (watchdog_slot_ != nullptr) Watchdog::instance().retire(watchdog_slot_);
  if (!setup_) return;
  if (worker_locker_ != nullptr) {
    // The worker still holds the isolate: the lock can never be taken again. Leave it to exit.
    (void)setup_.release();
    return;
  }
  {
    v8::Locker locker(isolate_);
    v8::Isolate::Scope isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    streams_.clear();
    for (auto& instance : orphans_) {
      instance->dispatch.Reset();
      instance->dispose.Reset();
    }
    orphans_.clear();
    poller_.closeKeepalive();
    uv_run(loop_, UV_RUN_NOWAIT);
    runtime_.Reset();
    process_ticks_.Reset();
    tick_flag_.Reset();
    context_.Reset();
    node::Stop(setup_->env());
  }
  setup_.reset();
}

void WorkerEnv::setTickHooks(v8::Local<v8::Function> process_ticks, v8::Local<v8::Int32Array> tick_flag) {
  process_ticks_.Reset(isolate_, process_ticks);
  tick_flag_.Reset(isolate_, tick_flag);
  tick_flag_data_ = reinterpret_cast<int32_t*>(static_cast<char*>(tick_flag->Buffer()->Data()) + tick_flag->ByteOffset());
}

void WorkerEnv::drainTicksAndMicrotasks() {
  if (dead()) return;
  Watchdog::Run run(watchdog_slot_, Watchdog::Phase::Drain, Watchdog::instance().loopBudgetMs());
  // Node's order: nextTick queue, then microtasks, until both are empty.
  for (int round = 0; round < 1000; round++) {
    if (tick_flag_data_ != nullptr && tick_flag_data_[0] != 0 && !process_ticks_.IsEmpty()) {
      v8::HandleScope handle_scope(isolate_);
      v8::Local<v8::Function> fn = process_ticks_.Get(isolate_);
      v8::TryCatch try_catch(isolate_);
      if (fn->Call(context(), v8::Undefined(isolate_), 0, nullptr).IsEmpty()) {
        if (try_catch.HasTerminated() || isolate_->IsExecutionTerminating()) {
          drainStopped("a nextTick callback");
          return;
        }
        // A tick callback threw: Node's uncaught-exception path (the bootstrap's capture callback),
        // which also repairs Node's async-context stack.
        if (try_catch.HasCaught()) node::FatalException(isolate_, try_catch);
      }
      continue;  // ticks may queue microtasks and more ticks
    }
    isolate_->PerformMicrotaskCheckpoint();
    if (isolate_->IsExecutionTerminating()) {
      drainStopped("a microtask (an async continuation)");
      return;
    }
    if (tick_flag_data_ == nullptr || tick_flag_data_[0] == 0) return;
  }
}

void WorkerEnv::drainStopped(const char* what) {
  if (dead()) return;  // stopped for good (heap): nothing to resume
  isolate_->CancelTerminateExecution();
  countSandboxEvent(SandboxEvent::CpuBudget);
  // V8 dropped the microtask queue; a stream whose continuation died answers at its settle timeout.
  const int64_t now = static_cast<int64_t>(Watchdog::instance().tick());
  drain_stops_.push_back(now);
  while (!drain_stops_.empty() && now - drain_stops_.front() > 10000) drain_stops_.pop_front();
  NV_ERROR("nodevoy: Node environment %u: %s ran over its CPU budget of %u ms and was stopped",
           index_, what, Watchdog::instance().loopBudgetMs());
  if (drain_stops_.size() >= 3) {
    // A nextTick or microtask loop that refills itself: this environment cannot go on.
    NV_ERROR("nodevoy: Node environment %u: %zu CPU budget stops in 10 s; stopping it (its worker rebuilds it)", index_,
             drain_stops_.size());
    watchdog_slot_->env_stopped.store(true, std::memory_order_release);
    countSandboxEvent(SandboxEvent::EnvStopped);
    node::Stop(setup_->env());
    poller_.poke();
  }
}

// ---- Streams ---------------------------------------------------------------------------------------

bool WorkerEnv::adopt() {
  if (adopted_) {
    if (pthread_equal(pthread_self(), worker_thread_)) return true;
    NV_ERROR("nodevoy: worker index %u seen on two threads; refusing the stream", index_);
    return false;
  }
  adopted_ = true;
  worker_thread_ = pthread_self();
  return true;
}

Stream* WorkerEnv::newStream(std::shared_ptr<FilterConfig> config, FilterInstance* instance, void* filter_envoy) {
  StreamTable::Entry entry;
  if (!table_.acquire(&entry)) {
    NV_ERROR("nodevoy: more than %u concurrent streams on worker %u; refusing the stream", StreamTable::kSlots, index_);
    return nullptr;
  }
  if (entry.slot >= streams_.size()) streams_.resize(entry.slot + 1);
  if (!streams_[entry.slot]) streams_[entry.slot] = std::make_unique<Stream>();
  Stream* stream = streams_[entry.slot].get();
  stream->start(this, std::move(config), instance, filter_envoy, entry, stream_ids.fetch_add(1) + 1);
  return stream;
}

void WorkerEnv::destroyStream(Stream* stream) {
  table_.markGone(stream->slot());  // from now on the SDK and the binding see the stream as gone
  if (depth_ > 0) {
    // JS (maybe a hook of this very stream) is on the stack: finish when it unwinds.
    deferred_destroys_.push_back(stream);
    stream->markGone();
    if (stream->waiting()) removeWaiting(stream);
    return;
  }
  stream->markGone();
  finishDestroy(stream);
  if (worker_locker_ != nullptr && shouldLetGo()) releaseFromWorker();
}

bool WorkerEnv::shouldLetGo() const {
  if (release_requested_.load(std::memory_order_acquire)) return true;
  if (table_.live() > 0) return false;
  // No stream left. Keeping the isolate costs nothing while its loop has nothing to run, and saves
  // the next stream a v8::Locker, isolate and context entry and the poller a wake-up (measured: ~6,700
  // instructions and two context switches per stream when one request at a time is served). The
  // poller needs the isolate when the loop has ref'd work (timers, I/O of a background task); anyone
  // else asks through release_requested_ (queued tasks, the poller's unref'd I/O), honoured at the
  // worker's next leave. A dead environment is always let go (its worker rebuilds it).
  return dead() || uv_loop_alive(loop_) != 0;
}

void WorkerEnv::finishDestroy(Stream* stream) {
  if (stream->waiting()) removeWaiting(stream);
  if (stream->scheduler() != nullptr) {
    std::lock_guard<std::mutex> lock(state_mutex_);  // the poller may be about to commit through it
    envoy.http_filter_scheduler_delete(stream->scheduler());
    stream->clearScheduler();
  }
  stream->finish();
  table_.release(stream->slot());
}

Stream* WorkerEnv::lookup(double token) {
  const int64_t slot = table_.lookup(token);
  if (slot < 0 || static_cast<size_t>(slot) >= streams_.size()) return nullptr;
  return streams_[slot].get();
}

void WorkerEnv::addWaiting(Stream* stream) {
  if (stream->waiting()) return;
  stream->setWaiting(true);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    waiting_.insert(stream);
    waiting_count_.store(static_cast<int>(waiting_.size()), std::memory_order_relaxed);
  }
  state_cv_.notify_all();
}

void WorkerEnv::removeWaiting(Stream* stream) {
  if (!stream->waiting()) return;
  stream->setWaiting(false);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    waiting_.erase(stream);
    waiting_count_.store(static_cast<int>(waiting_.size()), std::memory_order_relaxed);
  }
  state_cv_.notify_all();
}

// ---- Locking ---------------------------------------------------------------------------------------

void WorkerEnv::enterFromWorker() {
  if (depth_++ > 0) return;
  t_js_depth++;
  if (worker_locker_ == nullptr) {
    {
      std::unique_lock<std::mutex> lock(state_mutex_);
      state_cv_.wait(lock, [this] { return holder_ != Holder::Other; });
      holder_ = Holder::Worker;
    }
    worker_locker_ = new v8::Locker(isolate_);
    isolate_->Enter();
    v8::HandleScope handle_scope(isolate_);
    context()->Enter();
  }
  // Only once the isolate is ours: the slot describes the run of whoever holds it.
  Watchdog::instance().begin(watchdog_slot_, Watchdog::Phase::Loop, Watchdog::instance().loopBudgetMs());
  if (tasks_pending_.load(std::memory_order_acquire)) runQueuedTasks();
}

void WorkerEnv::drainIfOutermost() {
  if (depth_ == 1) drainTicksAndMicrotasks();
}

void WorkerEnv::leaveFromWorker() {
  if (depth_ > 1) {
    depth_--;
    return;
  }
  // Still at depth 1: tasks queued meanwhile (a config unloaded by this very hook) run now, as
  // outermost JS, before the isolate can be let go.
  if (tasks_pending_.load(std::memory_order_acquire)) {
    runQueuedTasks();
    drainTicksAndMicrotasks();
  }
  depth_ = 0;
  t_js_depth--;
  Watchdog::instance().end(watchdog_slot_);
  while (!deferred_destroys_.empty()) {
    Stream* stream = deferred_destroys_.back();
    deferred_destroys_.pop_back();
    finishDestroy(stream);
  }
  poller_.publish(anyWaiting());
  if (shouldLetGo()) releaseFromWorker();
}

void WorkerEnv::releaseFromWorker() {
  if (worker_locker_ == nullptr) return;
  {
    v8::HandleScope handle_scope(isolate_);
    context()->Exit();
  }
  isolate_->Exit();
  delete worker_locker_;
  worker_locker_ = nullptr;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    holder_ = Holder::None;
    release_requested_ = false;
  }
  state_cv_.notify_all();
  // The poller may want the isolate now (queued tasks, ref'd loop work); a poke otherwise only costs
  // it a wake-up for nothing.
  if (tasks_pending_.load(std::memory_order_acquire) || uv_loop_alive(loop_) != 0) poller_.poke();
}

bool WorkerEnv::tryAcquireOther() {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (holder_ != Holder::None) return false;
  holder_ = Holder::Other;
  return true;
}

// Like tryAcquireOther, for running the event loop: refused while a stream waits on async work,
// because that stream's continuations must run on its worker.
bool WorkerEnv::tryAcquireForLoop() {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (holder_ != Holder::None || !waiting_.empty()) return false;
  holder_ = Holder::Other;
  return true;
}

void WorkerEnv::releaseOther() {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    holder_ = Holder::None;
  }
  state_cv_.notify_all();
}

void WorkerEnv::queueTask(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks_.push_back(std::move(task));
    tasks_pending_.store(true, std::memory_order_release);
  }
  // If the worker holds the isolate, it runs the task at its next hook or leave; ask it to let the
  // isolate go then, so an idle worker does not sit on it.
  release_requested_.store(true, std::memory_order_release);
  poller_.poke();
}

void WorkerEnv::runOrQueue(std::function<void()> task) {
  if (onWorkerThread() && worker_locker_ != nullptr) {
    if (depth_ == 0 && t_js_depth == 0) {
      // The worker holds the isolate between hooks (sticky lock): run now, as outermost JS.
      t_js_depth++;
      Watchdog::instance().begin(watchdog_slot_, Watchdog::Phase::Loop, Watchdog::instance().loopBudgetMs() * 10);
      {
        v8::HandleScope handle_scope(isolate_);
        task();
        drainTicksAndMicrotasks();
      }
      Watchdog::instance().end(watchdog_slot_);
      t_js_depth--;
      poller_.publish(anyWaiting());
      return;
    }
    queueTask(std::move(task));  // inside a hook: runs when it unwinds
    return;
  }
  if (t_js_depth == 0 && tryAcquireOther()) {
    runAsOther(task, false);
    return;
  }
  queueTask(std::move(task));
}

void WorkerEnv::runBlocking(const std::function<void()>& task) {
  {
    std::unique_lock<std::mutex> lock(state_mutex_);
    state_cv_.wait(lock, [this] { return holder_ == Holder::None; });
    holder_ = Holder::Other;
  }
  runAsOther(task, false);
}

// A thread other than the worker, holding the isolate after tryAcquireOther(): runs queued tasks,
// then task, then (optionally) the event loop once; drains ticks and microtasks; lets go.
void WorkerEnv::runAsOther(const std::function<void()>& task, bool run_loop) {
  t_js_depth++;
  Watchdog& watchdog = Watchdog::instance();
  // Config loads (tasks) may take a while: they get ten times a loop run's budget.
  watchdog.begin(watchdog_slot_, Watchdog::Phase::Loop, watchdog.loopBudgetMs() * (task ? 10 : 1));
  {
    v8::Locker locker(isolate_);
    v8::Isolate::Scope isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    v8::Context::Scope context_scope(context());
    runQueuedTasks();
    if (task) task();
    if (run_loop) uv_run(loop_, UV_RUN_NOWAIT);
    drainTicksAndMicrotasks();
    poller_.publish(anyWaiting());
  }
  watchdog.end(watchdog_slot_);
  t_js_depth--;
  releaseOther();
}

void WorkerEnv::runQueuedTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(tasks_mutex_);
    tasks.swap(tasks_);
    tasks_pending_.store(false, std::memory_order_release);
  }
  for (auto& task : tasks) {
    v8::HandleScope handle_scope(isolate_);  // the worker may run these outside any hook's scope
    task();
  }
}

void WorkerEnv::pumpFromWorker() {
  if (!dead()) uv_run(loop_, UV_RUN_NOWAIT);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    pump_generation_++;
  }
  state_cv_.notify_all();
}

}  // namespace nodevoy
