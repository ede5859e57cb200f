#include "log.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "envoy_api.h"

namespace nodevoy {

bool logEnabled(nv_log_level level) {
  if (envoy.log_enabled == nullptr) return true;
  return envoy.log_enabled(level);
}

void logMessage(nv_log_level level, const char* file, uint32_t line, const std::string& message) {
  if (envoy.log_v2 != nullptr) {
    const char* base = strstr(file, "host/module/");
    if (base == nullptr) base = file;
    envoy.log_v2(level, nv_module_buffer{message.data(), message.size()}, nv_module_buffer{base, strlen(base)}, line);
  } else if (envoy.log != nullptr) {
    envoy.log(level, nv_module_buffer{message.data(), message.size()});
  } else {
    fprintf(stderr, "[nodevoy] %s\n", message.c_str());
  }
}

std::string format(const char* fmt, ...) {
  char small[512];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, args);
  va_end(args);
  if (n < 0) return std::string();
  if (static_cast<size_t>(n) < sizeof(small)) return std::string(small, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n), '\0');
  va_start(args, fmt);
  vsnprintf(big.data(), big.size() + 1, fmt, args);
  va_end(args);
  return big;
}

}  // namespace nodevoy
