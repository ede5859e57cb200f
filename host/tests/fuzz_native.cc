// libFuzzer target over libnodevoy's input parsing that can be exercised alone: filter_config
// bytes, header names and values (the bytes JS strings become), and stream tokens. Built and run by
// `npm run faults` (clang -fsanitize=fuzzer,address,undefined); a crash, a leak or undefined
// behaviour fails the run.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "filter_config_json.h"
#include "header_rules.h"
#include "stream_table.h"

using namespace nodevoy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0] % 3;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (selector == 0) {
    FilterConfigFields fields;
    (void)parseFilterConfig(rest, &fields);
  } else if (selector == 1) {
    // Name and value as UTF-16 code units, split at the first 0xFFFF.
    std::u16string units;
    for (size_t i = 0; i + 1 < rest.size(); i += 2) {
      units.push_back(static_cast<char16_t>(static_cast<uint8_t>(rest[i]) | (static_cast<uint8_t>(rest[i + 1]) << 8)));
    }
    const size_t split = units.find(u'\xFFFF');
    const std::u16string_view name_text = std::u16string_view(units).substr(0, split);
    const std::u16string_view value_text =
        split == std::u16string::npos ? std::u16string_view() : std::u16string_view(units).substr(split + 1);
    std::string name, value;
    (void)quoteForMessage(name_text);
    if (narrowToBytes(name_text, &name) != std::u16string::npos) return 0;
    lowerAscii(&name);
    const auto target = static_cast<HeaderTarget>(data[0] / 3 % 5);
    const auto write = static_cast<HeaderWrite>(data[0] / 15 % 3);
    if (!checkHeaderName(name, target, write).empty()) return 0;
    if (narrowToBytes(value_text, &value) != std::u16string::npos) return 0;
    if (checkHeaderValue(name, value, target, write).empty()) {
      // Accepted: the bytes must be safe to put on an HTTP/1 header line.
      for (char c : value) {
        if (c == '\0' || c == '\r' || c == '\n') __builtin_trap();
      }
      for (char c : name) {
        if (c == ':' && name[0] != ':') __builtin_trap();
        if (c == ' ' || c == '\r' || c == '\n' || c == '\0') __builtin_trap();
      }
    }
  } else {
    StreamTable table;
    StreamTable::Entry entry;
    table.acquire(&entry);
    for (size_t i = 0; i + sizeof(double) <= rest.size(); i += sizeof(double)) {
      double token;
      memcpy(&token, rest.data() + i, sizeof token);
      const int64_t slot = table.lookup(token);
      if (slot >= 0 && token != entry.token()) __builtin_trap();
    }
  }
  return 0;
}
