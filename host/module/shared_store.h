// State shared by every Node environment of the process (every Envoy worker): a bounded key-value
// store in native memory with the atomic operations a rate limiter or a cache needs — get, set with
// a TTL, increment with a TTL, compare-and-set, delete. It lives outside every environment, so it
// outlives config reloads.
//
// Threads: every method may run on any thread (A) at the same time. Each key belongs to one of a
// fixed set of shards, each with its own mutex held only for one hash lookup and an O(1) list splice;
// nothing inside a critical section allocates for more than the one entry written, calls out, or
// waits, so a caller on a worker's event loop never waits long.
//
// Bounds: at most max_entries entries and max_bytes bytes of keys and values (split evenly over the
// shards). A write that would pass a shard's bound first drops that shard's expired entries, then its
// least recently used ones. A single entry larger than a shard's byte budget is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nodevoy {

class SharedStore {
 public:
  // A stored value: a string (bytes) or a number.
  struct Value {
    enum class Type : uint8_t { String, Number } type = Type::Number;
    std::string text;
    double number = 0;

    static Value ofString(std::string_view s) {
      Value v;
      v.type = Type::String;
      v.text.assign(s);
      return v;
    }
    static Value ofNumber(double n) {
      Value v;
      v.number = n;
      return v;
    }
    bool operator==(const Value& other) const {
      return type == other.type && (type == Type::String ? text == other.text : number == other.number);
    }
  };

  enum class Status {
    Ok,
    NotANumber,  // increment of a key that holds a string
    TooLarge,    // the entry alone is larger than a shard's byte budget
  };

  struct Stats {
    size_t entries = 0;
    size_t bytes = 0;
    uint64_t evictions = 0;   // dropped to make room (least recently used)
    uint64_t expirations = 0; // dropped because their TTL passed
  };

  static constexpr size_t kDefaultMaxEntries = 100000;
  static constexpr size_t kDefaultMaxBytes = 64u << 20;
  static constexpr size_t kShards = 16;
  // Per-entry bookkeeping counted against max_bytes besides key and value.
  static constexpr size_t kEntryOverhead = 64;

  SharedStore(size_t max_entries, size_t max_bytes);

  // The process-wide store (limits from NODEVOY_SHARED_MAX_ENTRIES / NODEVOY_SHARED_MAX_BYTES, read
  // once on first use).
  static SharedStore& process();

  // now_ms: a monotonic clock in milliseconds (nowMs() below; tests pass their own). ttl_ms 0 = no
  // expiry.
  bool get(std::string_view key, Value* out, int64_t now_ms);
  Status set(std::string_view key, const Value& value, int64_t ttl_ms, int64_t now_ms);
  // Adds delta to the number under key; a missing (or expired) key starts from 0 and gets ttl_ms (an
  // existing key keeps its expiry: a fixed window). *result receives the new value.
  Status increment(std::string_view key, double delta, int64_t ttl_ms, int64_t now_ms, double* result);
  // Writes desired when the key holds expected (expected == nullptr: when the key is absent).
  // *swapped tells whether it did.
  Status compareAndSet(std::string_view key, const Value* expected, const Value& desired, int64_t ttl_ms,
                       int64_t now_ms, bool* swapped);
  bool remove(std::string_view key);
  Stats stats() const;

  size_t maxEntries() const { return max_entries_; }
  size_t maxBytes() const { return max_bytes_; }

  static int64_t nowMs();

 private:
  struct Entry {
    std::string key;
    Value value;
    int64_t expires_ms = 0;  // 0: never
    size_t bytes() const { return key.size() + value.text.size() + kEntryOverhead; }
  };
  using List = std::list<Entry>;  // front = most recently used

  struct Shard {
    mutable std::mutex mutex;
    List lru;
    std::unordered_map<std::string_view, List::iterator> index;  // keys view into the list's entries
    size_t bytes = 0;
    uint64_t evictions = 0;
    uint64_t expirations = 0;
  };

  Shard& shardFor(std::string_view key);
  // Shard locked. The live entry for key (expired ones are dropped), moved to the front; or null.
  Entry* find(Shard& shard, std::string_view key, int64_t now_ms);
  // Shard locked. Writes key = value, making room first; TooLarge when it cannot fit at all.
  Status store(Shard& shard, std::string_view key, const Value& value, int64_t expires_ms, int64_t now_ms);
  void erase(Shard& shard, List::iterator it);
  void makeRoom(Shard& shard, size_t incoming_bytes, bool incoming_is_new, int64_t now_ms);

  const size_t max_entries_;
  const size_t max_bytes_;
  const size_t shard_entries_;
  const size_t shard_bytes_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace nodevoy
