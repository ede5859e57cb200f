#include "shared_store.h"

#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <functional>

namespace nodevoy {

namespace {

size_t limitFromEnv(const char* name, size_t fallback) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long value = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || value == 0) return fallback;
  return static_cast<size_t>(value);
}

int64_t expiryFor(int64_t ttl_ms, int64_t now_ms) { return ttl_ms > 0 ? now_ms + ttl_ms : 0; }

}  // namespace

SharedStore::SharedStore(size_t max_entries, size_t max_bytes)
    : max_entries_(std::max<size_t>(max_entries, kShards)),
      max_bytes_(std::max<size_t>(max_bytes, kShards * kEntryOverhead * 2)),
      shard_entries_(max_entries_ / kShards),
      shard_bytes_(max_bytes_ / kShards),
      shards_(new Shard[kShards]) {}

SharedStore& SharedStore::process() {
  // Never destroyed: workers and pollers may still use it while the process exits.
  static SharedStore* store = new SharedStore(limitFromEnv("NODEVOY_SHARED_MAX_ENTRIES", kDefaultMaxEntries),
                                              limitFromEnv("NODEVOY_SHARED_MAX_BYTES", kDefaultMaxBytes));
  return *store;
}

int64_t SharedStore::nowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

SharedStore::Shard& SharedStore::shardFor(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void SharedStore::erase(Shard& shard, List::iterator it) {
  shard.bytes -= it->bytes();
  shard.index.erase(std::string_view(it->key));
  shard.lru.erase(it);
}

SharedStore::Entry* SharedStore::find(Shard& shard, std::string_view key, int64_t now_ms) {
  auto found = shard.index.find(key);
  if (found == shard.index.end()) return nullptr;
  List::iterator it = found->second;
  if (it->expires_ms != 0 && it->expires_ms <= now_ms) {
    shard.expirations++;
    erase(shard, it);
    return nullptr;
  }
  if (it != shard.lru.begin()) shard.lru.splice(shard.lru.begin(), shard.lru, it);
  return &*it;
}

void SharedStore::makeRoom(Shard& shard, size_t incoming_bytes, bool incoming_is_new, int64_t now_ms) {
  auto over = [&] {
    return shard.bytes + incoming_bytes > shard_bytes_ || (incoming_is_new && shard.lru.size() + 1 > shard_entries_);
  };
  if (!over()) return;
  // Expired entries go first (a walk over the shard: only when it is full).
  for (auto it = shard.lru.begin(); it != shard.lru.end() && over();) {
    auto next = std::next(it);
    if (it->expires_ms != 0 && it->expires_ms <= now_ms) {
      shard.expirations++;
      erase(shard, it);
    }
    it = next;
  }
  // Then the least recently used.
  while (over() && !shard.lru.empty()) {
    shard.evictions++;
    erase(shard, std::prev(shard.lru.end()));
  }
}

SharedStore::Status SharedStore::store(Shard& shard, std::string_view key, const Value& value, int64_t expires_ms,
                                       int64_t now_ms) {
  const size_t incoming = key.size() + value.text.size() + kEntryOverhead;
  if (incoming > shard_bytes_) return Status::TooLarge;
  auto found = shard.index.find(key);
  if (found != shard.index.end()) {
    // Replace in place: the old value is released first and does not count against the room needed;
    // the entry moves to the front, so making room evicts everything else before it (and then the
    // new value fits, having passed the check above). An expired one may go: look it up again.
    List::iterator it = found->second;
    shard.bytes -= it->value.text.size();
    std::string().swap(it->value.text);
    if (it != shard.lru.begin()) shard.lru.splice(shard.lru.begin(), shard.lru, it);
    makeRoom(shard, value.text.size(), false, now_ms);
    found = shard.index.find(key);
    if (found != shard.index.end()) {
      it = found->second;
      it->value = value;
      it->expires_ms = expires_ms;
      shard.bytes += value.text.size();
      return Status::Ok;
    }
    makeRoom(shard, incoming, true, now_ms);  // it expired meanwhile: a new entry after all
  } else {
    makeRoom(shard, incoming, true, now_ms);
  }
  shard.lru.push_front(Entry{std::string(key), value, expires_ms});
  shard.index.emplace(std::string_view(shard.lru.front().key), shard.lru.begin());
  shard.bytes += shard.lru.front().bytes();
  return Status::Ok;
}

bool SharedStore::get(std::string_view key, Value* out, int64_t now_ms) {
  Shard& shard = shardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  Entry* entry = find(shard, key, now_ms);
  if (entry == nullptr) return false;
  *out = entry->value;
  return true;
}

SharedStore::Status SharedStore::set(std::string_view key, const Value& value, int64_t ttl_ms, int64_t now_ms) {
  Shard& shard = shardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  return store(shard, key, value, expiryFor(ttl_ms, now_ms), now_ms);
}

SharedStore::Status SharedStore::increment(std::string_view key, double delta, int64_t ttl_ms, int64_t now_ms,
                                           double* result) {
  Shard& shard = shardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  Entry* entry = find(shard, key, now_ms);
  if (entry != nullptr) {
    if (entry->value.type != Value::Type::Number) return Status::NotANumber;
    entry->value.number += delta;
    *result = entry->value.number;
    return Status::Ok;
  }
  *result = delta;
  return store(shard, key, Value::ofNumber(delta), expiryFor(ttl_ms, now_ms), now_ms);
}

SharedStore::Status SharedStore::compareAndSet(std::string_view key, const Value* expected, const Value& desired,
                                               int64_t ttl_ms, int64_t now_ms, bool* swapped) {
  Shard& shard = shardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  Entry* entry = find(shard, key, now_ms);
  const bool matches = expected == nullptr ? entry == nullptr : entry != nullptr && entry->value == *expected;
  *swapped = false;
  if (!matches) return Status::Ok;
  const Status status = store(shard, key, desired, expiryFor(ttl_ms, now_ms), now_ms);
  *swapped = status == Status::Ok;
  return status;
}

bool SharedStore::remove(std::string_view key) {
  Shard& shard = shardFor(key);
  std::lock_guard<std::mutex> lock(shard.mutex);
  auto found = shard.index.find(key);
  if (found == shard.index.end()) return false;
  erase(shard, found->second);
  return true;
}

SharedStore::Stats SharedStore::stats() const {
  Stats total;
  for (size_t i = 0; i < kShards; i++) {
    const Shard& shard = shards_[i];
    std::lock_guard<std::mutex> lock(shard.mutex);
    total.entries += shard.lru.size();
    total.bytes += shard.bytes;
    total.evictions += shard.evictions;
    total.expirations += shard.expirations;
  }
  return total;
}

}  // namespace nodevoy
