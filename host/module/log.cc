#include "log.h"

#include "vformat.h"

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
  va_list args;
  va_start(args, fmt);
  std::string out = nv_common::vformat(fmt, args);
  va_end(args);
  return out;
}

}  // namespace nodevoy
