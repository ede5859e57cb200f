// An HTTP header map with Envoy's observable behaviour: lower-case keys, insertion order with
// pseudo-headers first, several values per key, and Envoy's inline (O(1)) headers, which hold one
// entry that further values are appended to.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace devhost {

class HeaderMap {
 public:
  // Which of Envoy's four header map types this is: each has its own set of inline headers.
  enum class Kind { RequestHeaders, RequestTrailers, ResponseHeaders, ResponseTrailers };

  struct Entry {
    std::string key;
    std::string value;
  };

  explicit HeaderMap(Kind kind) : kind_(kind) {}

  // Own thread (the stream's worker) for everything below.
  // Appends a value. For an inline header already present, Envoy's HeaderMapImpl::insertByKey appends
  // it to the existing entry instead, after "," ("; " for cookie); an empty value then adds nothing.
  void add(std::string_view key, std::string_view value);
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
  Kind kind() const { return kind_; }

  static std::string lower(std::string_view key);

  // Main thread, before any worker starts: a header the bootstrap's inline_headers registers as inline
  // for one map type (Envoy's CustomInlineHeaderRegistry). Refuses (false) once frozen.
  static bool registerInlineHeader(Kind kind, std::string_view name);
  static void freezeInlineHeaders();
  static bool isInline(Kind kind, std::string_view lower_key);

 private:
  // The stored key for `key`: lower-cased; a request map stores "host" as ":authority", as Envoy's does.
  std::string storedKey(std::string_view key) const;

  Kind kind_;
  std::vector<Entry> entries_;
};

}  // namespace devhost
