#include "header_map.h"

#include <algorithm>
#include <cctype>

namespace devhost {

std::string HeaderMap::lower(std::string_view key) {
  std::string out(key);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void HeaderMap::add(std::string_view key, std::string_view value) {
  std::string k = lower(key);
  if (!k.empty() && k[0] == ':') {
    // Pseudo-headers stay ahead of regular headers, as in Envoy's header maps.
    auto it = std::find_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.key.empty() || e.key[0] != ':'; });
    entries_.insert(it, Entry{std::move(k), std::string(value)});
    return;
  }
  entries_.push_back(Entry{std::move(k), std::string(value)});
}

void HeaderMap::set(std::string_view key, std::string_view value) {
  // Envoy's HeaderMapImpl::setCopy: remove every value of the key, then add the new one, so the
  // header moves to the end of the map (of the pseudo-header block for a pseudo-header).
  std::string k = lower(key);
  std::string v(value);  // value may point into an entry that remove() frees
  remove(k);
  add(k, v);
}

size_t HeaderMap::remove(std::string_view key) {
  std::string k = lower(key);
  size_t before = entries_.size();
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == k; }),
                 entries_.end());
  return before - entries_.size();
}

namespace {
// Stored keys are lower-case; the probe key may not be.
bool keyEquals(const std::string& stored, std::string_view key) {
  return stored.size() == key.size() && std::equal(stored.begin(), stored.end(), key.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}
}  // namespace

const std::string* HeaderMap::get(std::string_view key, size_t index) const {
  for (const auto& e : entries_) {
    if (keyEquals(e.key, key)) {
      if (index == 0) return &e.value;
      index--;
    }
  }
  return nullptr;
}

size_t HeaderMap::count(std::string_view key) const {
  size_t n = 0;
  for (const auto& e : entries_) n += keyEquals(e.key, key) ? 1 : 0;
  return n;
}

size_t HeaderMap::byteSize() const {
  size_t n = 0;
  for (const auto& e : entries_) n += e.key.size() + e.value.size();
  return n;
}

}  // namespace devhost
