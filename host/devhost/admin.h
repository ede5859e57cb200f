// The admin listener: /ready, /stats, /listeners, /logging, /quitquitquit, like Envoy's admin.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace devhost {

struct AdminHandlers {
  std::function<void()> quit;
  // Re-reads the bootstrap and swaps the listeners' filter chains; empty string on success.
  std::function<std::string()> reload;
};

// Main thread. Binds the admin address and serves on the main dispatcher. Returns the bound port,
// or 0 with *error set.
uint16_t startAdmin(const std::string& address, uint16_t port, AdminHandlers handlers, std::string* error);
void stopAdmin();

}  // namespace devhost
