// Envoy-style logging for the dev host: "[time][thread id][level][component] [file:line] message".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace devhost {

enum class LogLevel : int { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5, Off = 6 };

// Components with their own level, like Envoy's loggers (--component-log-level name:level,...).
enum class Component : int { Main = 0, Config, DynamicModules, Http, Router, Upstream, Admin, Connection, Count };

const char* componentName(Component c);
const char* levelName(LogLevel l);
bool parseLevel(std::string_view text, LogLevel* out);
bool parseComponent(std::string_view text, Component* out);

class Logger {
 public:
  // Any thread.
  static bool enabled(Component c, LogLevel l) { return l >= level(c) && l != LogLevel::Off; }
  static LogLevel level(Component c) { return levels_[static_cast<int>(c)].load(std::memory_order_relaxed); }
  static void setAll(LogLevel l);
  static void set(Component c, LogLevel l);
  // Writes one whole line to stderr with a single write(2), so lines from threads never interleave.
  static void write(Component c, LogLevel l, std::string_view file, uint32_t line, std::string_view message);

 private:
  static std::atomic<LogLevel> levels_[static_cast<int>(Component::Count)];
};

std::string formatv(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace devhost

#define DH_LOG(component, lvl, ...)                                                                   \
  do {                                                                                                \
    if (::devhost::Logger::enabled(::devhost::Component::component, ::devhost::LogLevel::lvl)) {     \
      ::devhost::Logger::write(::devhost::Component::component, ::devhost::LogLevel::lvl, __FILE__,    \
                               __LINE__, ::devhost::formatv(__VA_ARGS__));                            \
    }                                                                                                 \
  } while (0)
