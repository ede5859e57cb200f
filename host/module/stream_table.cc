#include "stream_table.h"

#include <cmath>

namespace nodevoy {

bool StreamTable::acquire(Entry* out) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    if (generations_.size() >= kSlots) return false;
    slot = static_cast<uint32_t>(generations_.size());
    generations_.push_back(0);
  }
  uint32_t& generation = generations_[slot];
  // Generation 0 means "free" in the liveness table; tokens must stay exact doubles (< 2^53).
  generation = generation >= (1u << 31) ? 1 : generation + 1;
  liveness_[slot] = generation;
  live_++;
  *out = Entry{slot, generation};
  return true;
}

void StreamTable::markGone(uint32_t slot) {
  if (slot < generations_.size() && liveness_[slot] != 0) {
    liveness_[slot] = 0;
    live_--;
  }
}

void StreamTable::release(uint32_t slot) {
  markGone(slot);
  if (slot < generations_.size()) free_.push_back(slot);
}

int64_t StreamTable::lookup(double token) const {
  if (!(token >= 0) || token != std::floor(token) || token >= 9007199254740992.0) return -1;
  const uint64_t value = static_cast<uint64_t>(token);
  const uint32_t slot = static_cast<uint32_t>(value % kSlots);
  const uint64_t generation = value / kSlots;
  if (slot >= generations_.size() || generation == 0 || liveness_[slot] != generation) return -1;
  return slot;
}

}  // namespace nodevoy
