#include "watchdog.h"

#include <time.h>

#include <cstdlib>
#include <string>

#include <node.h>
#include <v8.h>

#include "log.h"
#include "sandbox_stats.h"

namespace nodevoy {

namespace {

uint32_t envMs(const char* name, uint32_t fallback) {
  const char* value = getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const unsigned long parsed = strtoul(value, &end, 10);
  return (end != nullptr && *end == '\0' && parsed > 0 && parsed < 3600000) ? static_cast<uint32_t>(parsed) : fallback;
}

// The CPU time a thread's clock shows, in ns; -1 when it cannot be read (then wall time decides).
int64_t cpuNs(clockid_t clock) {
  struct timespec ts;
  if (clock == 0 || clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

Watchdog* const Watchdog::instance_ = new Watchdog();  // never freed: its thread runs until exit

void Watchdog::start() {
  if (thread_.joinable()) return;
  hook_budget_ms_ = envMs("NODEVOY_CPU_BUDGET_MS", 50);
  loop_budget_ms_ = envMs("NODEVOY_LOOP_BUDGET_MS", 1000);
  thread_ = std::thread([this] { run(); });
  thread_.detach();  // runs until the process exits; touches only slots, which are never freed
}

Watchdog::Slot* Watchdog::add(v8::Isolate* isolate, node::Environment* env) {
  auto* slot = new Slot();
  slot->isolate = isolate;
  slot->env = env;
  std::lock_guard<std::mutex> lock(mutex_);
  slots_.push_back(slot);
  return slot;
}

void Watchdog::retire(Slot* slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  slot->retired = true;
  std::erase(slots_, slot);
  // The slot itself stays allocated (a few dozen bytes per rebuild): the watchdog may hold it.
}

void Watchdog::run() {
  const struct timespec period{0, 1000000};  // 1 ms
  for (uint64_t tick = 1;; tick++) {
    nanosleep(&period, nullptr);
    tick_.store(tick, std::memory_order_relaxed);
    if (tick % 4 != 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    for (Slot* slot : slots_) {
      const uint64_t started = slot->started.load(std::memory_order_acquire);
      if (started == 0 || slot->stopped_run.load(std::memory_order_relaxed) == started) continue;
      const int64_t cpu = cpuNs(slot->cpu_clock.load(std::memory_order_relaxed));
      if (slot->observed_run != started) {
        slot->observed_run = started;  // first sight of this run: its CPU baseline
        slot->cpu_base_ns = cpu;
        continue;
      }
      const uint64_t budget = slot->budget.load(std::memory_order_relaxed);
      if (tick - started < budget) continue;
      if (cpu >= 0 && cpu - slot->cpu_base_ns < static_cast<int64_t>(budget) * 1000000) continue;
      // Still the same run? (It may have ended a moment ago; then leave the next one alone.)
      if (slot->started.load(std::memory_order_acquire) != started) continue;
      slot->stopped_run.store(started, std::memory_order_relaxed);
      stops_.fetch_add(1, std::memory_order_relaxed);
      NV_WARN("nodevoy: the watchdog stops JS that ran over its CPU budget of %u ms (%s)", static_cast<unsigned>(budget),
              slot->phase.load(std::memory_order_relaxed) == static_cast<uint8_t>(Phase::Loop)
                  ? "in a Node callback: its environment is stopped and will be rebuilt"
                  : "in a hook or an async continuation: that execution only");
      if (slot->phase.load(std::memory_order_relaxed) != static_cast<uint8_t>(Phase::Loop)) {
        slot->isolate->TerminateExecution();
      } else {
        slot->env_stopped.store(true, std::memory_order_release);
        node::Stop(slot->env);  // sets the environment stopping, then terminates its JS
        countSandboxEvent(SandboxEvent::CpuBudget);
        countSandboxEvent(SandboxEvent::EnvStopped);
        if (slot->on_stopped) slot->on_stopped(slot->on_stopped_data);
      }
    }
  }
}

}  // namespace nodevoy
