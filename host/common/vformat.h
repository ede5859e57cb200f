// printf into a std::string; shared by the dev host's and libnodevoy's loggers (header-only, so each
// binary keeps its own copy and neither depends on the other).
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

namespace nv_common {

inline std::string vformat(const char* fmt, va_list args) {
  char small[512];
  va_list again;
  va_copy(again, args);
  int n = vsnprintf(small, sizeof(small), fmt, args);
  if (n < 0) {
    va_end(again);
    return std::string();
  }
  if (static_cast<size_t>(n) < sizeof(small)) {
    va_end(again);
    return std::string(small, static_cast<size_t>(n));
  }
  std::string big(static_cast<size_t>(n), '\0');
  vsnprintf(big.data(), big.size() + 1, fmt, again);
  va_end(again);
  return big;
}

}  // namespace nv_common
