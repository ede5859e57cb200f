#include "log.h"

#include "vformat.h"

#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace devhost {

std::atomic<LogLevel> Logger::levels_[static_cast<int>(Component::Count)] = {
    LogLevel::Info, LogLevel::Info, LogLevel::Info, LogLevel::Info,
    LogLevel::Info, LogLevel::Info, LogLevel::Info, LogLevel::Info};

namespace {
constexpr const char* kComponentNames[] = {"main", "config", "dynamic_modules", "http",
                                           "router", "upstream", "admin", "connection"};
constexpr const char* kLevelNames[] = {"trace", "debug", "info", "warning", "error", "critical", "off"};
}  // namespace

const char* componentName(Component c) { return kComponentNames[static_cast<int>(c)]; }
const char* levelName(LogLevel l) { return kLevelNames[static_cast<int>(l)]; }

bool parseLevel(std::string_view text, LogLevel* out) {
  for (int i = 0; i <= static_cast<int>(LogLevel::Off); i++) {
    if (text == kLevelNames[i]) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  if (text == "warn") {
    *out = LogLevel::Warn;
    return true;
  }
  return false;
}

bool parseComponent(std::string_view text, Component* out) {
  for (int i = 0; i < static_cast<int>(Component::Count); i++) {
    if (text == kComponentNames[i]) {
      *out = static_cast<Component>(i);
      return true;
    }
  }
  return false;
}

void Logger::setAll(LogLevel l) {
  for (auto& level : levels_) level.store(l, std::memory_order_relaxed);
}

void Logger::set(Component c, LogLevel l) { levels_[static_cast<int>(c)].store(l, std::memory_order_relaxed); }

void Logger::write(Component c, LogLevel l, std::string_view file, uint32_t line, std::string_view message) {
  struct timeval now;
  gettimeofday(&now, nullptr);
  struct tm tm_now;
  localtime_r(&now.tv_sec, &tm_now);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm_now);
  // Envoy's "[%g:%#]" prints the file as given (the dev host's own __FILE__ is already relative to
  // host/, like Envoy's paths below its source root; a module's log_v2 file is printed untouched). An
  // empty source location (line 0, e.g. the deprecated envoy_dynamic_module_callback_log) prints as
  // "[:]", as spdlog does.
  std::string location = line == 0 ? std::string(":") : formatv("%.*s:%u", static_cast<int>(file.size()), file.data(), line);
  std::string out = formatv("[%s.%03ld][%ld][%s][%s] [%s] ", stamp, static_cast<long>(now.tv_usec / 1000),
                            static_cast<long>(syscall(SYS_gettid)), levelName(l), componentName(c), location.c_str());
  out.append(message);
  out.push_back('\n');
  size_t written = 0;
  while (written < out.size()) {
    ssize_t n = ::write(STDERR_FILENO, out.data() + written, out.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
}

std::string formatv(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string out = nv_common::vformat(fmt, args);
  va_end(args);
  return out;
}

}  // namespace devhost
