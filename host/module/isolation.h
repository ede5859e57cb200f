// Checks that no name the host process exports replaces one that libnode, its libraries (libuv,
// OpenSSL, zlib, brotli, nghttp2, c-ares, ICU) or libnodevoy itself define or import. ld.so binds
// every such name to the first definition in the process's global scope (the executable, preloaded
// libraries, RTLD_GLOBAL objects) before the library's own, so an Envoy built to export every
// symbol (--define exported_symbols=enabled) sends libnode's calls into its own BoringSSL, zlib, ...
// Main thread, at program init; costs nothing afterwards.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace nodevoy {

struct SymbolClash {
  std::string symbol;
  std::string library;   // the libnode-side library it belongs to (defines it, else imports it)
  std::string provider;  // the host object ld.so binds it to
  bool provider_is_executable = false;
};

struct IsolationFindings {
  std::vector<SymbolClash> clashes;  // in link-map order
  size_t host_objects = 0;           // objects whose exports were compared
  size_t dependency_objects = 0;     // libnodevoy, libnode and libnode's non-system dependencies
  size_t host_names = 0;             // names the host objects export
  size_t dependency_symbols = 0;     // entries in their dynamic symbol tables
  double elapsed_ms = 0;
  std::vector<std::string> unreadable;  // objects without a readable dynamic symbol table
};

// Walks the link map and compares dynamic symbol tables; no side effects.
IsolationFindings findSymbolClashes();

// The refusal message for findings with clashes: which names, from where, and what to do.
std::string describeSymbolClashes(const IsolationFindings& findings);

// True when nothing clashes; else *problem is the refusal message. Logs its figures at debug level.
bool checkSymbolIsolation(std::string* problem);

}  // namespace nodevoy
