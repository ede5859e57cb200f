// Measures the shared store (host/module/shared_store.h) alone: ns per operation on one thread, and
// with two threads (two Envoy workers) hitting the same key and different keys. Prints figures side
// by side; asserts nothing. Usage: shared_store_bench [operations per thread]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "shared_store.h"

using nodevoy::SharedStore;

namespace {

using Clock = std::chrono::steady_clock;

// Runs op(thread, i) for i in [0, n) on `threads` threads at once; returns ns per operation as seen
// by one thread (wall time / n), the figure a worker's event loop pays.
double run(int threads, long n, const std::function<void(int, long)>& op) {
  std::vector<std::thread> workers;
  std::vector<double> per_op(threads);
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; t++) {
    workers.emplace_back([&, t] {
      ready++;
      while (ready.load() < threads) {
      }
      const auto start = Clock::now();
      for (long i = 0; i < n; i++) op(t, i);
      per_op[t] = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / static_cast<double>(n);
    });
  }
  for (auto& w : workers) w.join();
  double sum = 0;
  for (double v : per_op) sum += v;
  return sum / threads;
}

std::vector<std::string> keys(const char* prefix, long count) {
  std::vector<std::string> out;
  out.reserve(count);
  for (long i = 0; i < count; i++) out.push_back(std::string(prefix) + std::to_string(i));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 2000000;
  SharedStore store(SharedStore::kDefaultMaxEntries, SharedStore::kDefaultMaxBytes);
  const auto client_keys = keys("ratelimit:client-", 1000);
  const int64_t now = SharedStore::nowMs();
  volatile double sink = 0;

  struct Row {
    const char* name;
    std::function<void(int, long)> op;
    std::function<void(int, long)> op_split;  // the same, each thread on its own keys
  };
  const std::vector<Row> rows = {
      {"get (hit)",
       [&](int, long i) {
         SharedStore::Value v;
         store.get(client_keys[i % 1000], &v, now);
       },
       [&](int t, long i) {
         SharedStore::Value v;
         store.get(client_keys[(i % 500) + t * 500], &v, now);
       }},
      {"set (number, ttl)",
       [&](int, long i) { store.set(client_keys[i % 1000], SharedStore::Value::ofNumber(i), 60000, now); },
       [&](int t, long i) { store.set(client_keys[(i % 500) + t * 500], SharedStore::Value::ofNumber(i), 60000, now); }},
      {"increment (ttl)",
       [&](int, long i) {
         double r;
         store.increment(client_keys[i % 1000], 1, 60000, now, &r);
         sink = r;
       },
       [&](int t, long i) {
         double r;
         store.increment(client_keys[(i % 500) + t * 500], 1, 60000, now, &r);
         sink = r;
       }},
      {"increment, one hot key",
       [&](int, long) {
         double r;
         store.increment("hot", 1, 0, now, &r);
         sink = r;
       },
       nullptr},
      {"compareAndSet (hit)",
       [&](int, long i) {
         SharedStore::Value expected = SharedStore::Value::ofNumber(0);
         bool swapped;
         store.compareAndSet(client_keys[i % 1000], &expected, SharedStore::Value::ofNumber(0), 0, now, &swapped);
       },
       nullptr},
  };
  for (const auto& k : client_keys) store.set(k, SharedStore::Value::ofNumber(0), 0, now);

  printf("shared store: %ld operations per thread, %zu shards\n", n, SharedStore::kShards);
  printf("%-26s %12s %18s %10s %18s %10s\n", "operation", "1 thread", "2 threads, shared", "ratio", "2 threads, split",
         "ratio");
  for (const auto& row : rows) {
    const double one = run(1, n, row.op);
    const double two = run(2, n, row.op);
    char split[32] = "-", split_ratio[32] = "-";
    if (row.op_split) {
      const double s = run(2, n, row.op_split);
      snprintf(split, sizeof(split), "%.1f ns", s);
      snprintf(split_ratio, sizeof(split_ratio), "%.2fx", s / one);
    }
    printf("%-26s %9.1f ns %15.1f ns %9.2fx %18s %10s\n", row.name, one, two, two / one, split, split_ratio);
  }
  const auto stats = store.stats();
  printf("entries %zu, bytes %zu, evictions %llu\n", stats.entries, stats.bytes,
         static_cast<unsigned long long>(stats.evictions));
  (void)sink;
  return 0;
}
