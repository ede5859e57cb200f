// An HTTP header map with Envoy's observable behaviour: lower-case keys, insertion order with
// pseudo-headers first, several values per key.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace devhost {

class HeaderMap {
 public:
  struct Entry {
    std::string key;
    std::string value;
  };

  // Own thread (the stream's worker) for everything below.
  void add(std::string_view key, std::string_view value);   // appends a value
  void set(std::string_view key, std::string_view value);   // replaces every value of key
  size_t remove(std::string_view key);                       // returns how many values were removed
  // The index-th value of key, or nullptr.
  const std::string* get(std::string_view key, size_t index = 0) const;
  size_t count(std::string_view key) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }
  size_t byteSize() const;

  static std::string lower(std::string_view key);

 private:
  std::vector<Entry> entries_;
};

}  // namespace devhost
