// A body buffer made of slices, like Envoy's Buffer::Instance: modules see each slice as a chunk.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

namespace devhost {

class Buffer {
 public:
  // Own thread (the stream's worker) for everything below.
  void append(std::string_view data) {
    if (data.empty()) return;
    slices_.emplace_back(data);
    length_ += data.size();
  }
  void append(std::string&& data) {
    if (data.empty()) return;
    length_ += data.size();
    slices_.push_back(std::move(data));
  }
  // Moves every slice of other to the end of this buffer.
  void move(Buffer& other) {
    for (auto& slice : other.slices_) slices_.push_back(std::move(slice));
    length_ += other.length_;
    other.slices_.clear();
    other.length_ = 0;
  }
  // Removes n bytes from the front (all of it when n >= length).
  void drain(size_t n) {
    while (n > 0 && !slices_.empty()) {
      std::string& front = slices_.front();
      if (n >= front.size()) {
        n -= front.size();
        length_ -= front.size();
        slices_.pop_front();
      } else {
        front.erase(0, n);
        length_ -= n;
        n = 0;
      }
    }
  }
  size_t length() const { return length_; }
  bool empty() const { return length_ == 0; }
  const std::deque<std::string>& slices() const { return slices_; }
  std::deque<std::string>& mutableSlices() { return slices_; }
  std::string toString() const {
    std::string out;
    out.reserve(length_);
    for (const auto& s : slices_) out += s;
    return out;
  }
  void clear() {
    slices_.clear();
    length_ = 0;
  }

 private:
  std::deque<std::string> slices_;
  size_t length_ = 0;
};

}  // namespace devhost
