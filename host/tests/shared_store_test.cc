// The process-wide shared store (host/module/shared_store.h): operations, TTLs, bounds and atomicity
// under threads.
#include "shared_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using nodevoy::SharedStore;
using Value = SharedStore::Value;

namespace {

Value str(const char* s) { return Value::ofString(s); }
Value num(double n) { return Value::ofNumber(n); }

TEST(SharedStore, SetGetDelete) {
  SharedStore store(1000, 1 << 20);
  Value out;
  EXPECT_FALSE(store.get("a", &out, 0));
  EXPECT_EQ(store.set("a", str("one"), 0, 0), SharedStore::Status::Ok);
  ASSERT_TRUE(store.get("a", &out, 0));
  EXPECT_EQ(out.type, Value::Type::String);
  EXPECT_EQ(out.text, "one");
  EXPECT_EQ(store.set("a", num(2.5), 0, 0), SharedStore::Status::Ok);
  ASSERT_TRUE(store.get("a", &out, 0));
  EXPECT_EQ(out.type, Value::Type::Number);
  EXPECT_EQ(out.number, 2.5);
  EXPECT_TRUE(store.remove("a"));
  EXPECT_FALSE(store.remove("a"));
  EXPECT_FALSE(store.get("a", &out, 0));
  EXPECT_EQ(store.stats().entries, 0u);
  EXPECT_EQ(store.stats().bytes, 0u);
}

TEST(SharedStore, BinaryKeysAndValues) {
  SharedStore store(1000, 1 << 20);
  const std::string key("k\0ey", 4);
  const std::string value("v\0\xff", 3);
  store.set(key, Value::ofString(value), 0, 0);
  Value out;
  ASSERT_TRUE(store.get(key, &out, 0));
  EXPECT_EQ(out.text, value);
  EXPECT_FALSE(store.get("k", &out, 0));
}

TEST(SharedStore, TtlExpires) {
  SharedStore store(1000, 1 << 20);
  store.set("a", str("x"), 100, 1000);
  Value out;
  EXPECT_TRUE(store.get("a", &out, 1099));
  EXPECT_FALSE(store.get("a", &out, 1100));
  EXPECT_EQ(store.stats().expirations, 1u);
  EXPECT_EQ(store.stats().entries, 0u);
  store.set("b", str("y"), 0, 1000);
  EXPECT_TRUE(store.get("b", &out, 1000 + 86400000));  // no TTL: no expiry
}

TEST(SharedStore, IncrementIsAFixedWindow) {
  SharedStore store(1000, 1 << 20);
  double value = 0;
  EXPECT_EQ(store.increment("n", 1, 1000, 0, &value), SharedStore::Status::Ok);
  EXPECT_EQ(value, 1);
  EXPECT_EQ(store.increment("n", 2, 1000, 500, &value), SharedStore::Status::Ok);
  EXPECT_EQ(value, 3);  // the TTL of an existing key is kept: it still expires at 1000
  EXPECT_EQ(store.increment("n", 1, 1000, 999, &value), SharedStore::Status::Ok);
  EXPECT_EQ(value, 4);
  EXPECT_EQ(store.increment("n", 1, 1000, 1000, &value), SharedStore::Status::Ok);
  EXPECT_EQ(value, 1);  // a new window
  EXPECT_EQ(store.increment("n", -5, 0, 1001, &value), SharedStore::Status::Ok);
  EXPECT_EQ(value, -4);
  store.set("s", str("text"), 0, 0);
  EXPECT_EQ(store.increment("s", 1, 0, 0, &value), SharedStore::Status::NotANumber);
  Value out;
  ASSERT_TRUE(store.get("s", &out, 0));
  EXPECT_EQ(out.text, "text");
}

TEST(SharedStore, CompareAndSet) {
  SharedStore store(1000, 1 << 20);
  bool swapped = false;
  Value one = str("1");
  // Absent expected: only when the key is absent.
  EXPECT_EQ(store.compareAndSet("k", nullptr, one, 0, 0, &swapped), SharedStore::Status::Ok);
  EXPECT_TRUE(swapped);
  store.compareAndSet("k", nullptr, str("other"), 0, 0, &swapped);
  EXPECT_FALSE(swapped);
  Value wrong = str("2");
  store.compareAndSet("k", &wrong, str("3"), 0, 0, &swapped);
  EXPECT_FALSE(swapped);
  Value number_one = num(1);
  store.compareAndSet("k", &number_one, str("3"), 0, 0, &swapped);
  EXPECT_FALSE(swapped) << "a number never equals a string";
  store.compareAndSet("k", &one, str("3"), 50, 0, &swapped);
  EXPECT_TRUE(swapped);
  Value out;
  ASSERT_TRUE(store.get("k", &out, 10));
  EXPECT_EQ(out.text, "3");
  EXPECT_FALSE(store.get("k", &out, 50));  // the TTL given with the swap applies
  store.compareAndSet("k", nullptr, str("4"), 0, 60, &swapped);
  EXPECT_TRUE(swapped) << "an expired key counts as absent";
}

TEST(SharedStore, EvictsLeastRecentlyUsedByCount) {
  // 16 shards x 2 entries.
  SharedStore store(SharedStore::kShards * 2, 1 << 20);
  const int n = 200;
  for (int i = 0; i < n; i++) store.set("key" + std::to_string(i), num(i), 0, 0);
  const auto stats = store.stats();
  EXPECT_LE(stats.entries, SharedStore::kShards * 2);
  EXPECT_EQ(stats.evictions, n - stats.entries);
  Value out;
  EXPECT_TRUE(store.get("key199", &out, 0)) << "the newest entry stays";
}

TEST(SharedStore, RecentlyReadEntriesSurvive) {
  SharedStore store(SharedStore::kShards * 2, 1 << 20);
  // Find three keys of one shard by trying: the shard is the key's hash modulo the shard count.
  std::vector<std::string> same;
  const size_t shard = std::hash<std::string_view>{}("hot") % SharedStore::kShards;
  for (int i = 0; same.size() < 2; i++) {
    std::string key = "k" + std::to_string(i);
    if (std::hash<std::string_view>{}(key) % SharedStore::kShards == shard) same.push_back(key);
  }
  store.set("hot", num(1), 0, 0);
  store.set(same[0], num(2), 0, 0);
  Value out;
  ASSERT_TRUE(store.get("hot", &out, 0));  // now the most recently used of the shard
  store.set(same[1], num(3), 0, 0);        // the shard holds two: the least recently used goes
  EXPECT_TRUE(store.get("hot", &out, 0));
  EXPECT_FALSE(store.get(same[0], &out, 0));
  EXPECT_TRUE(store.get(same[1], &out, 0));
}

TEST(SharedStore, BoundedByBytes) {
  const size_t max_bytes = SharedStore::kShards * 4096;
  SharedStore store(1000000, max_bytes);
  const std::string big(1000, 'x');
  for (int i = 0; i < 1000; i++) {
    ASSERT_EQ(store.set("key" + std::to_string(i), Value::ofString(big), 0, 0), SharedStore::Status::Ok);
  }
  const auto stats = store.stats();
  EXPECT_LE(stats.bytes, max_bytes);
  EXPECT_GT(stats.evictions, 0u);
  // One entry larger than a shard's budget is refused, and changes nothing.
  EXPECT_EQ(store.set("huge", Value::ofString(std::string(8192, 'y')), 0, 0), SharedStore::Status::TooLarge);
  Value out;
  EXPECT_FALSE(store.get("huge", &out, 0));
}

TEST(SharedStore, ExpiredEntriesGoBeforeLiveOnes) {
  SharedStore store(SharedStore::kShards * 2, 1 << 20);
  const size_t shard = std::hash<std::string_view>{}("live") % SharedStore::kShards;
  std::vector<std::string> same;
  for (int i = 0; same.size() < 2; i++) {
    std::string key = "e" + std::to_string(i);
    if (std::hash<std::string_view>{}(key) % SharedStore::kShards == shard) same.push_back(key);
  }
  store.set("live", num(1), 0, 0);
  store.set(same[0], num(2), 10, 0);  // newer, but expires at 10
  store.set(same[1], num(3), 0, 20);  // the shard is full: the expired entry goes, not the older live one
  Value out;
  EXPECT_TRUE(store.get("live", &out, 20));
  EXPECT_TRUE(store.get(same[1], &out, 20));
  EXPECT_EQ(store.stats().evictions, 0u);
}

TEST(SharedStore, ReplacingKeepsAccountingRight) {
  SharedStore store(1000, 1 << 20);
  store.set("a", str("short"), 0, 0);
  store.set("a", Value::ofString(std::string(500, 'z')), 0, 0);
  store.set("a", num(1), 0, 0);
  EXPECT_EQ(store.stats().bytes, 1 + SharedStore::kEntryOverhead);
  store.remove("a");
  EXPECT_EQ(store.stats().bytes, 0u);
}

TEST(SharedStore, IncrementsFromManyThreadsAreExact) {
  SharedStore store(1000, 1 << 20);
  const int threads = 8;
  const int per_thread = 20000;
  std::vector<std::thread> workers;
  std::atomic<int> over_limit{0};
  const int limit = 1000;
  for (int t = 0; t < threads; t++) {
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; i++) {
        double value = 0;
        store.increment("total", 1, 0, 0, &value);
        double limited = 0;
        store.increment("limited", 1, 0, 0, &limited);
        if (limited > limit) over_limit++;
      }
    });
  }
  for (auto& w : workers) w.join();
  Value out;
  ASSERT_TRUE(store.get("total", &out, 0));
  EXPECT_EQ(out.number, threads * per_thread);
  // A rate limit decided from increment's result admits exactly `limit`, whatever the interleaving.
  EXPECT_EQ(over_limit.load(), threads * per_thread - limit);
}

TEST(SharedStore, CompareAndSetFromManyThreadsLosesNoUpdate) {
  SharedStore store(1000, 1 << 20);
  store.set("v", num(0), 0, 0);
  const int threads = 4;
  const int per_thread = 5000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; t++) {
    workers.emplace_back([&] {
      for (int i = 0; i < per_thread; i++) {
        for (;;) {
          Value current;
          store.get("v", &current, 0);
          bool swapped = false;
          store.compareAndSet("v", &current, num(current.number + 1), 0, 0, &swapped);
          if (swapped) break;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  Value out;
  ASSERT_TRUE(store.get("v", &out, 0));
  EXPECT_EQ(out.number, threads * per_thread);
}

}  // namespace
