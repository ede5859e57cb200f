// The stream slots of one Node environment: slot numbers, generations, and the liveness table JS
// reads to tell a live stream from a gone one without a native crossing. A stream token is
// generation × kSlots + slot (sdk/internal/contract.ts). Pure bookkeeping, no V8 and no Envoy;
// unit-tested in host/tests/stream_table_test.cc. Worker thread only (W).
#pragma once

#include <cstdint>
#include <vector>

#include "contract.gen.h"

namespace nodevoy {

class StreamTable {
 public:
  static constexpr uint32_t kSlots = contract::kSlots;

  struct Entry {
    uint32_t slot = 0;
    uint32_t generation = 0;
    double token() const { return static_cast<double>(generation) * kSlots + slot; }
  };

  // Takes a free slot (reusing released ones first) with a new generation and marks it live;
  // false when every slot is taken.
  bool acquire(Entry* out);
  // The stream is gone for JS and native lookups from now on; its slot stays taken until release.
  void markGone(uint32_t slot);
  // Returns a gone slot to the free list.
  void release(uint32_t slot);
  // The slot a token names while its stream is live, or -1 (stale, malformed or never issued).
  int64_t lookup(double token) const;

  // The liveness table shared with JS (kSlots entries; 0 = no live stream in that slot).
  uint32_t* liveness() { return liveness_.data(); }
  uint32_t slotsInUse() const { return static_cast<uint32_t>(generations_.size() - free_.size()); }
  uint32_t live() const { return live_; }

 private:
  std::vector<uint32_t> liveness_ = std::vector<uint32_t>(kSlots, 0);
  std::vector<uint32_t> generations_;  // per slot ever used: its last generation
  std::vector<uint32_t> free_;
  uint32_t live_ = 0;
};

}  // namespace nodevoy
