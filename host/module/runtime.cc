#include "runtime.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#include "envoy_api.h"
#include "log.h"

namespace nodevoy {

namespace {

// Runs as the environment's main script (with `require` and `process` in scope): wires the native
// binding, makes nextTick observable to the native side, keeps errors outside hooks non-fatal, and
// finds and instantiates filters in loaded bundles.
constexpr const char* kBootstrap = R"JS(
const binding = process._linkedBinding('nodevoy');
const Module = require('module');
const tickFlag = new Int32Array(1);
const nextTick = process.nextTick;
process.nextTick = function (...args) { tickFlag[0] = 1; return nextTick.apply(this, args); };
const runTicks = process._tickCallback;
const processTicks = () => { tickFlag[0] = 0; runTicks(); };
process.on('uncaughtException', (err, origin) => {
  binding.log(4, `nodevoy: uncaught exception outside a hook (${origin}): ${err && err.stack ? err.stack : String(err)}`);
});
process.on('unhandledRejection', (reason) => {
  binding.log(4, `nodevoy: unhandled promise rejection: ${reason && reason.stack ? reason.stack : String(reason)}`);
});
const brand = Symbol.for('nodevoy.filter.v1');
function findFilter(exports, name) {
  const found = new Map();
  const consider = (value) => {
    if (value && (typeof value === 'object' || typeof value === 'function') && value[brand]) found.set(value[brand].name, value);
  };
  consider(exports);
  if (exports && typeof exports === 'object') for (const key of Object.keys(exports)) consider(exports[key]);
  if (name === '' && found.size === 1) return [...found.values()][0];
  const def = found.get(name);
  if (!def) {
    const names = [...found.keys()].map((n) => JSON.stringify(n)).join(', ');
    throw new Error(`the bundle has no filter named ${JSON.stringify(name)} (filters found: ${names || 'none; export a defineFilter() result'})`);
  }
  return def;
}
binding.setup({
  tickFlag,
  processTicks,
  load(path) {
    // Always CommonJS, whatever the file's extension or the nearest package.json says.
    const fs = require('fs');
    const m = new Module(path, null);
    m.filename = path;
    m.paths = Module._nodeModulePaths(require('path').dirname(path));
    m._compile(fs.readFileSync(path, 'utf8'), path);
    m.loaded = true;
    return m.exports;
  },
  instantiate(exports, name, configJson, filterId) {
    return findFilter(exports, name)[brand].instantiate(binding, configJson, filterId);
  },
});
)JS";

// NODEVOY_INSPECT=host:port opens Node's inspector (a debugger endpoint, as `node --inspect`) on
// one environment: worker NODEVOY_INSPECT_WORKER (default 0). Node's inspector agent keeps
// process-wide state, so a second environment with an inspector aborts; every other environment is
// created without one. Read once (any thread).
struct InspectSettings {
  std::string address;  // empty: no inspector
  uint32_t worker = 0;
};

const InspectSettings& inspectSettings() {
  static const InspectSettings settings = [] {
    InspectSettings s;
    if (const char* address = getenv("NODEVOY_INSPECT")) s.address = address;
    if (const char* worker = getenv("NODEVOY_INSPECT_WORKER")) s.worker = static_cast<uint32_t>(strtoul(worker, nullptr, 10));
    return s;
  }();
  return settings;
}

bool isInspectedEnv(uint32_t index) { return !inspectSettings().address.empty() && index == inspectSettings().worker; }

int64_t nowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

void registerBinding(node::Environment* env, WorkerEnv* worker_env);  // binding.cc

// ---- NodeRuntime ---------------------------------------------------------------------------------

NodeRuntime& NodeRuntime::instance() {
  static NodeRuntime* runtime = new NodeRuntime();  // process lifetime; V8 cannot be re-initialised
  return *runtime;
}

bool NodeRuntime::initialize(std::string* error) {
  if (initialized_) return true;
  using namespace node::ProcessInitializationFlags;
  // --experimental-global-webcrypto: globalThis.crypto, as in Node >= 19 (libraries such as jose 6 need it).
  std::vector<std::string> argv = {"envoy", "--unhandled-rejections=warn", "--no-warnings",
                                   "--experimental-global-webcrypto"};
  // NODEVOY_NODE_OPTIONS adds Node/V8 options (e.g. --max-old-space-size=64, --perf-basic-prof);
  // NODE_OPTIONS from Envoy's environment is deliberately ignored.
  if (const char* extra = getenv("NODEVOY_NODE_OPTIONS")) {
    std::string options(extra);
    size_t start = 0;
    while (start < options.size()) {
      size_t end = options.find(' ', start);
      if (end == std::string::npos) end = options.size();
      if (end > start) argv.push_back(options.substr(start, end - start));
      start = end + 1;
    }
  }
  if (!inspectSettings().address.empty()) argv.push_back("--inspect=" + inspectSettings().address);
  init_ = node::InitializeOncePerProcess(
      argv, static_cast<node::ProcessInitializationFlags::Flags>(
                kNoInitializeV8 | kNoInitializeNodeV8Platform | kNoStdioInitialization | kNoDefaultSignalHandling |
                kDisableNodeOptionsEnv | kNoAdjustResourceLimits | kNoUseLargePages | kNoPrintHelpOrVersionOutput));
  if (!init_ || init_->early_return() || !init_->errors().empty()) {
    *error = "Node initialisation failed";
    if (init_) {
      for (const auto& e : init_->errors()) *error += ": " + e;
    }
    return false;
  }
  args_ = init_->args();
  exec_args_ = init_->exec_args();
  platform_ = node::MultiIsolatePlatform::Create(2);
  v8::V8::InitializePlatform(platform_.get());
  v8::V8::Initialize();
  initialized_ = true;
  return true;
}

bool NodeRuntime::ensureEnvs(uint32_t count, std::string* error) {
  while (envs_.size() < count) {
    auto env = WorkerEnv::create(static_cast<uint32_t>(envs_.size()), error);
    if (!env) return false;
    envs_.push_back(std::move(env));
  }
  return true;
}

WorkerEnv* NodeRuntime::env(uint32_t worker_index) {
  return worker_index < envs_.size() ? envs_[worker_index].get() : nullptr;
}

void NodeRuntime::destroyEnvs() { envs_.clear(); }

// ---- WorkerEnv: creation and teardown --------------------------------------------------------------

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
    node::SetProcessExitHandler(env, [](node::Environment*, int code) {
      NV_ERROR("nodevoy: filter code called process.exit(%d); ignored (a filter cannot stop the proxy)", code);
    });
    registerBinding(env, self.get());
    uv_async_init(self->loop_, &self->keepalive_, [](uv_async_t*) {});
    uv_unref(reinterpret_cast<uv_handle_t*>(&self->keepalive_));
    v8::TryCatch try_catch(self->isolate_);
    if (node::LoadEnvironment(env, kBootstrap).IsEmpty() || self->runtime_.IsEmpty()) {
      v8::String::Utf8Value message(self->isolate_, try_catch.Exception());
      *error = std::string("the nodevoy bootstrap failed in the Node environment: ") + (*message ? *message : "?");
      return nullptr;
    }
    self->drainTicksAndMicrotasks();
    if (isInspectedEnv(index)) {
      // The inspector wakes this loop with uv_async_send, but an idle loop (every handle unref'd)
      // is never run, and libuv adds fds to its epoll set only when it runs. Keep the loop alive
      // (syncKeepalive leaves it ref'd) and run it once, so the poller dispatches debugger messages.
      uv_ref(reinterpret_cast<uv_handle_t*>(&self->keepalive_));
      self->keepalive_ref_ = true;
      uv_run(self->loop_, UV_RUN_NOWAIT);
      self->publishLoopState();
    }
  }
  self->poke_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  self->startPoller();
  NV_DEBUG("nodevoy: Node environment %u ready", index);
  return self;
}

WorkerEnv::~WorkerEnv() {
  stopPoller();
  if (poke_fd_ >= 0) close(poke_fd_);
  if (!setup_) return;
  if (worker_locker_ != nullptr) {
    // The worker still holds the isolate (it never went idle): its thread is gone, so the lock can
    // never be taken again. Leave the environment to the process exit.
    NV_WARN("nodevoy: Node environment %u is still held by its worker; not freeing it", index_);
    (void)setup_.release();
    return;
  }
  {
    v8::Locker locker(isolate_);
    v8::Isolate::Scope isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    records_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&keepalive_), nullptr);
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
  // Node's order: nextTick queue, then microtasks, until both are empty.
  for (int round = 0; round < 1000; round++) {
    if (tick_flag_data_ != nullptr && tick_flag_data_[0] != 0 && !process_ticks_.IsEmpty()) {
      v8::HandleScope handle_scope(isolate_);
      v8::Local<v8::Function> fn = process_ticks_.Get(isolate_);
      v8::TryCatch try_catch(isolate_);
      if (fn->Call(context(), v8::Undefined(isolate_), 0, nullptr).IsEmpty()) {
        // processTicks threw: the uncaughtException handler has logged it.
      }
      continue;  // ticks may queue microtasks and more ticks
    }
    isolate_->PerformMicrotaskCheckpoint();
    if (tick_flag_data_ == nullptr || tick_flag_data_[0] == 0) return;
  }
}

// ---- Streams ----------------------------------------------------------------------------------------

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

StreamRecord* WorkerEnv::newStream(std::shared_ptr<FilterConfig> config, FilterInstance* instance,
                                   nv_filter_envoy_ptr fe) {
  StreamRecord* record;
  if (!free_slots_.empty()) {
    record = &records_[free_slots_.back()];
    free_slots_.pop_back();
  } else {
    if (records_.size() >= StreamRecord::kMaxStreams) {
      NV_ERROR("nodevoy: more than %u concurrent streams on worker %u; refusing the stream", StreamRecord::kMaxStreams, index_);
      return nullptr;
    }
    records_.emplace_back();
    record = &records_.back();
    record->slot = static_cast<uint32_t>(records_.size() - 1);
  }
  record->env = this;
  record->config = std::move(config);
  record->instance = instance;
  record->filter_envoy = fe;
  record->generation = record->generation == UINT32_MAX ? 1 : record->generation + 1;
  record->alive = true;
  liveness_[record->slot] = record->generation;
  record->stream_id = stream_ids.fetch_add(1) + 1;
  record->scheduler = nullptr;
  record->running_kind = record->pending_kind = 0;
  record->result_ready = record->replied = record->resume_posted = false;
  record->result = 0;
  record->crossings = record->bytes_copied = 0;
  live_streams_++;
  return record;
}

void WorkerEnv::destroyStream(StreamRecord* record) {
  record->alive = false;
  liveness_[record->slot] = 0;  // from now on the SDK and the binding see the stream as gone
  if (depth_ > 0) {
    // JS (and maybe an outer hook of this stream) is still on the stack: finish when it unwinds.
    record->destroy_pending = true;
    deferred_destroys_.push_back(record);
    return;
  }
  finishDestroy(record);
  if (live_streams_ == 0 && worker_locker_ != nullptr) releaseFromWorker();
}

void WorkerEnv::finishDestroy(StreamRecord* record) {
  if (record->waiting) removeWaiting(record);
  if (record->scheduler != nullptr) {
    std::lock_guard<std::mutex> lock(state_mutex_);  // the poller may be about to commit through it
    envoy.http_filter_scheduler_delete(record->scheduler);
    record->scheduler = nullptr;
  }
  record->destroy_pending = false;
  record->filter_envoy = nullptr;
  record->config.reset();
  record->instance = nullptr;
  free_slots_.push_back(record->slot);
  live_streams_--;
}

StreamRecord* WorkerEnv::lookup(double token) {
  if (!(token >= 0)) return nullptr;
  uint64_t value = static_cast<uint64_t>(token);
  uint32_t slot = static_cast<uint32_t>(value % StreamRecord::kMaxStreams);
  uint32_t generation = static_cast<uint32_t>(value / StreamRecord::kMaxStreams);
  if (slot >= records_.size()) return nullptr;
  StreamRecord* record = &records_[slot];
  if (!record->alive || record->generation != generation) return nullptr;
  return record;
}

void WorkerEnv::addWaiting(StreamRecord* record) {
  if (record->waiting) return;
  record->waiting = true;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    waiting_.insert(record);
    waiting_count_.store(static_cast<int>(waiting_.size()), std::memory_order_relaxed);
  }
  state_cv_.notify_all();
}

void WorkerEnv::removeWaiting(StreamRecord* record) {
  if (!record->waiting) return;
  record->waiting = false;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    waiting_.erase(record);
    waiting_count_.store(static_cast<int>(waiting_.size()), std::memory_order_relaxed);
  }
  state_cv_.notify_all();
}

void WorkerEnv::syncKeepalive() {
  // waiting_ changes only while the isolate is held, so the holder's read is current.
  const bool want = waiting_count_.load(std::memory_order_relaxed) > 0 || isInspectedEnv(index_);
  if (want == keepalive_ref_) return;
  keepalive_ref_ = want;
  if (want) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&keepalive_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(&keepalive_));
  }
}

// ---- Locking ---------------------------------------------------------------------------------------

void WorkerEnv::enterFromWorker() {
  if (depth_++ > 0) return;
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
  if (tasks_pending_.load(std::memory_order_acquire)) runQueuedTasks();
}

void WorkerEnv::drainIfOutermost() {
  if (depth_ == 1) drainTicksAndMicrotasks();
}

void WorkerEnv::leaveFromWorker() {
  if (--depth_ > 0) return;
  while (!deferred_destroys_.empty()) {
    StreamRecord* record = deferred_destroys_.back();
    deferred_destroys_.pop_back();
    finishDestroy(record);
  }
  syncKeepalive();
  publishLoopState();
  if (live_streams_ == 0 || release_requested_.load(std::memory_order_acquire)) releaseFromWorker();
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
  bool poller_interested;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    holder_ = Holder::None;
    poller_interested = release_requested_ || tasks_pending_ || loop_alive_;
    release_requested_ = false;
  }
  state_cv_.notify_all();
  if (poller_interested) {
    uint64_t one = 1;
    (void)!write(poke_fd_, &one, sizeof(one));  // the poller wants the isolate now
  }
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

bool WorkerEnv::runOrQueue(std::function<void()> task) {
  if (onWorkerThread() && worker_locker_ != nullptr) {
    task();
    return true;
  }
  if (tryAcquireOther()) {
    runAsOther(task, false);
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    tasks_.push_back(std::move(task));
    tasks_pending_ = true;  // the worker runs it at its next hook, or the poller once the isolate is free
    if (holder_ == Holder::Worker) release_requested_ = true;
  }
  uint64_t one = 1;
  (void)!write(poke_fd_, &one, sizeof(one));
  return false;
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
  {
    v8::Locker locker(isolate_);
    v8::Isolate::Scope isolate_scope(isolate_);
    v8::HandleScope handle_scope(isolate_);
    v8::Context::Scope context_scope(context());
    runQueuedTasks();
    if (task) task();
    if (run_loop) uv_run(loop_, UV_RUN_NOWAIT);
    drainTicksAndMicrotasks();
    syncKeepalive();
    publishLoopState();
  }
  releaseOther();
}

void WorkerEnv::runQueuedTasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    tasks.swap(tasks_);
    tasks_pending_ = false;
  }
  for (auto& task : tasks) {
    v8::HandleScope handle_scope(isolate_);  // the worker may run these outside any hook's scope
    task();
  }
}

// ---- The event loop ----------------------------------------------------------------------------------

void WorkerEnv::pumpFromWorker() {
  uv_run(loop_, UV_RUN_NOWAIT);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    pump_generation_++;
  }
  state_cv_.notify_all();
}

// Lock holder: tells the poller when the next timer is due and whether the loop has anything to do.
void WorkerEnv::publishLoopState() {
  bool alive = uv_loop_alive(loop_) != 0;
  if (!alive && !loop_alive_.load(std::memory_order_relaxed)) return;  // idle before and after: nothing to tell
  // The loop's clock only advances in uv_run; refresh it so the timeout counts from now.
  if (alive) uv_update_time(loop_);
  int timeout = alive ? uv_backend_timeout(loop_) : -1;
  int64_t deadline = timeout < 0 ? -1 : nowMs() + timeout;
  int64_t previous = next_deadline_ms_.exchange(deadline);
  bool was_alive = loop_alive_.exchange(alive);
  if (alive && (!was_alive || previous < 0 || (deadline >= 0 && deadline < previous))) {
    uint64_t one = 1;
    (void)!write(poke_fd_, &one, sizeof(one));
  }
}

void WorkerEnv::startPoller() {
  poller_ = std::thread([this] { pollerMain(); });
}

void WorkerEnv::stopPoller() {
  if (!poller_.joinable()) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(poke_fd_, &one, sizeof(one));
  state_cv_.notify_all();
  poller_.join();
}

// Poller thread: waits (without the isolate) for the loop to have work — I/O on its backend fd or a
// due timer — then makes the lock holder run it: the worker, through a waiting stream's scheduler,
// or this thread itself when nobody holds the isolate.
void WorkerEnv::pollerMain() {
  const int backend_fd = uv_backend_fd(loop_);
  while (!stopping_) {
    int timeout = -1;
    if (loop_alive_.load()) {
      int64_t deadline = next_deadline_ms_.load();
      if (deadline >= 0) timeout = static_cast<int>(std::max<int64_t>(0, deadline - nowMs()));
    }
    if (tasks_pending_.load()) timeout = 0;
    struct pollfd fds[2] = {{backend_fd, POLLIN, 0}, {poke_fd_, POLLIN, 0}};
    int ready = poll(fds, 2, timeout);
    if (stopping_) break;
    if (fds[1].revents & POLLIN) {
      uint64_t value;
      (void)!read(poke_fd_, &value, sizeof(value));
    }
    bool io = ready > 0 && (fds[0].revents & POLLIN);
    bool timer_due = ready == 0 && timeout >= 0;
    if (!io && !timer_due && !tasks_pending_.load()) continue;
    if (!io && !timer_due && tasks_pending_.load()) {
      if (tryAcquireOther()) {
        runAsOther(nullptr, false);
      } else {
        usleep(1000);
      }
      continue;
    }
    // The loop has work. Run it here only when no stream waits on it and nobody holds the isolate.
    if (tryAcquireForLoop()) {
      runAsOther(nullptr, true);
      continue;
    }
    // Otherwise the worker must run it: wake it through a stream waiting on async work, or ask it to
    // let the isolate go at the end of its next hook. Then wait for the loop to have run.
    uint64_t generation;
    {
      std::unique_lock<std::mutex> lock(state_mutex_);
      generation = pump_generation_;
      StreamRecord* target = nullptr;
      for (StreamRecord* record : waiting_) {
        if (record->scheduler != nullptr) {
          target = record;
          break;
        }
      }
      if (target != nullptr) {
        envoy.http_filter_scheduler_commit(target->scheduler, kEventPump);
        state_cv_.wait_for(lock, std::chrono::milliseconds(50),
                           [&] { return stopping_ || pump_generation_ != generation || waiting_.empty(); });
      } else {
        if (holder_ == Holder::Worker) release_requested_ = true;
        state_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
          return stopping_ || pump_generation_ != generation || holder_ == Holder::None || !waiting_.empty();
        });
      }
    }
  }
}

}  // namespace nodevoy
