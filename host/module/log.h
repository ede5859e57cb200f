// Logging through Envoy's logger ("dynamic_modules"), with this file's location when the running
// Envoy has log_v2. Any thread.
#pragma once

#include <cstdint>
#include <string>

#include "nodevoy_envoy_abi.h"

namespace nodevoy {

bool logEnabled(nv_log_level level);
void logMessage(nv_log_level level, const char* file, uint32_t line, const std::string& message);
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace nodevoy

#define NV_LOG(level, ...)                                                              \
  do {                                                                                  \
    if (::nodevoy::logEnabled(level)) {                                                 \
      ::nodevoy::logMessage(level, __FILE__, __LINE__, ::nodevoy::format(__VA_ARGS__)); \
    }                                                                                   \
  } while (0)
#define NV_INFO(...) NV_LOG(NV_LOG_INFO, __VA_ARGS__)
#define NV_WARN(...) NV_LOG(NV_LOG_WARN, __VA_ARGS__)
#define NV_ERROR(...) NV_LOG(NV_LOG_ERROR, __VA_ARGS__)
#define NV_DEBUG(...) NV_LOG(NV_LOG_DEBUG, __VA_ARGS__)
