// The CPU budget of JS. One thread for the process (D) keeps a millisecond tick and, every few ticks,
// looks at each environment's current JS run: a run that used more CPU time than its budget is
// stopped. Marking a run costs a few relaxed atomic stores and a load of the tick — no clock read,
// no syscall on the stream path; the watchdog reads the running thread's CPU clock itself, from the
// first time it sees the run (so a run is measured from at most 4 ms after it began, never
// longer), and only for runs already over budget in wall time — a thread the machine did not
// schedule is not charged.
//
// What stopping means depends on where the JS runs (the run's phase):
//   Hook  — a filter hook libnodevoy called itself (js_call.cc): the watchdog terminates the
//           execution; the caller cancels the termination once the hook unwound, fails that stream
//           (500, or fail-open), and the environment goes on.
//   Drain — nextTicks and microtasks (async continuations) run by libnodevoy's drain: terminated
//           and cancelled the same way (V8 drops the microtask queue); the stream whose
//           continuation died answers at its settle timeout. Repeated drain stops in a short time
//           (a nextTick loop refills its queue) stop the environment as below.
//   Loop  — Node's own callbacks (timers, I/O) and config loads: Node's internals cannot be resumed
//           safely after a termination (its timer loop would retry the terminated call forever),
//           so the environment is stopped (node::Stop); its worker then rebuilds it (node_runtime.h).
//
// Threads: D runs the thread; begin/end are called by the isolate lock holder (L); add/remove by M
// or W.
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace node {
class Environment;
}
namespace v8 {
class Isolate;
}

namespace nodevoy {

class Watchdog {
 public:
  enum class Phase : uint8_t { Hook = 1, Drain = 2, Loop = 3 };

  // One per environment; lives as long as the process (a rebuilt environment gets a new one).
  struct Slot {
    v8::Isolate* isolate = nullptr;
    node::Environment* env = nullptr;
    std::atomic<uint64_t> started{0};      // tick the current run began; 0 when no JS runs
    std::atomic<uint32_t> budget{0};       // ms
    std::atomic<uint8_t> phase{0};
    std::atomic<uint64_t> stopped_run{0};  // the `started` of the run the watchdog stopped, 0 none
    std::atomic<bool> env_stopped{false};  // a Loop run was stopped: the environment is dead
    std::atomic<bool> retired{false};
    std::atomic<clockid_t> cpu_clock{0};   // the running thread's CPU clock
    pthread_t clock_thread{};              // L: the thread cpu_clock belongs to (asked once per thread change)
    // D only: the run the watchdog has a CPU baseline for, and that baseline.
    uint64_t observed_run = 0;
    int64_t cpu_base_ns = 0;
    void (*on_stopped)(void*) = nullptr;  // D: the environment was stopped (wakes its poller)
    void* on_stopped_data = nullptr;
  };

  static Watchdog& instance() { return *instance_; }

  // M, once: starts the thread. Budgets in ms: for hooks (NODEVOY_CPU_BUDGET_MS, default 50) and
  // for Node's callbacks and loads (NODEVOY_LOOP_BUDGET_MS, default 1000; loads get 10x).
  void start();
  uint32_t hookBudgetMs() const { return hook_budget_ms_; }
  uint32_t loopBudgetMs() const { return loop_budget_ms_; }

  Slot* add(v8::Isolate* isolate, node::Environment* env);
  void retire(Slot* slot);  // the environment is going away: stop watching it

  // L: a JS run begins (nested begins keep the outer run) / ends.
  void begin(Slot* slot, Phase phase, uint32_t budget_ms) {
    const pthread_t self = pthread_self();
    if (!pthread_equal(self, slot->clock_thread)) {
      clockid_t clock;
      if (pthread_getcpuclockid(self, &clock) == 0) {
        slot->cpu_clock.store(clock, std::memory_order_relaxed);
        slot->clock_thread = self;
      }
    }
    slot->budget.store(budget_ms, std::memory_order_relaxed);
    slot->phase.store(static_cast<uint8_t>(phase), std::memory_order_relaxed);
    slot->started.store(tick_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void end(Slot* slot) { slot->started.store(0, std::memory_order_release); }

  uint64_t stops() const { return stops_.load(std::memory_order_relaxed); }
  // A: the watchdog's millisecond tick (0 until its thread runs).
  uint64_t tick() const { return tick_.load(std::memory_order_relaxed); }

  // L: a run of `phase` for the scope; the enclosing run (if any) restarts its clock when it ends.
  class Run {
   public:
    Run(Slot* slot, Phase phase, uint32_t budget_ms)
        : slot_(slot),
          outer_started_(slot->started.load(std::memory_order_relaxed)),
          outer_phase_(slot->phase.load(std::memory_order_relaxed)),
          outer_budget_(slot->budget.load(std::memory_order_relaxed)) {
      instance().begin(slot, phase, budget_ms);
    }
    ~Run() {
      if (outer_started_ == 0) {
        instance().end(slot_);
      } else {
        instance().begin(slot_, static_cast<Phase>(outer_phase_), outer_budget_);
      }
    }
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

   private:
    Slot* slot_;
    uint64_t outer_started_;
    uint8_t outer_phase_;
    uint32_t outer_budget_;
  };

 private:
  Watchdog() = default;
  static Watchdog* const instance_;  // made when libnodevoy loads; process lifetime
  void run();

  std::atomic<uint64_t> tick_{0};
  std::atomic<uint64_t> stops_{0};
  uint32_t hook_budget_ms_ = 50;
  uint32_t loop_budget_ms_ = 1000;
  std::mutex mutex_;  // guards slots_
  std::vector<Slot*> slots_;
  std::thread thread_;
};

}  // namespace nodevoy
