// Process-wide counts of what the sandbox did (errors outside hooks, CPU budget stops, environments
// stopped and rebuilt, heap limits, settle timeouts), as Envoy stats. Every config defines the same
// counter names, which Envoy resolves to one stat each; an event is counted through any live config
// (a config-level update, Envoy >= 1.39; older Envoys get the log lines only).
//
// Threads: define/add/remove on M or wherever a config is destroyed (A); count on any thread (A).
#pragma once

#include <cstddef>

#include "nodevoy_envoy_abi.h"

namespace nodevoy {

enum class SandboxEvent : int {
  Uncaught,       // nodevoy_uncaught_errors: an exception or rejection outside every hook
  CpuBudget,      // nodevoy_cpu_budget_stops: JS stopped for running over its CPU budget
  EnvStopped,     // nodevoy_environment_stops: an environment stopped (loop budget, heap limit)
  HeapLimit,      // nodevoy_heap_limit_stops: of those, for its heap
  Rebuild,        // nodevoy_environment_rebuilds: a worker's environment replaced by a fresh one
  SettleTimeout,  // nodevoy_settle_timeouts: a hook that never settled (or a 'stop' never continued)
  kCount,
};

struct SandboxCounters {
  size_t ids[static_cast<int>(SandboxEvent::kCount)] = {};
};

// M, inside config_new: defines the counters for a config.
SandboxCounters defineSandboxCounters(nv_config_envoy_ptr config_envoy);
// A config can count from now on / not any more (before its Envoy pointer dies).
void addSandboxCounters(const void* owner, nv_config_envoy_ptr config_envoy, const SandboxCounters& counters);
void removeSandboxCounters(const void* owner);
// A: counts one event.
void countSandboxEvent(SandboxEvent event);

}  // namespace nodevoy
