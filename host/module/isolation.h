// Checks that the libraries libnode depends on (libuv, OpenSSL, V8/N-API in libnode itself) are not
// hijacked by same-named symbols the host process exports (e.g. an Envoy built with
// --define exported_symbols=enabled, which exports BoringSSL and V8). Main thread, at program init.
#pragma once

#include <string>

namespace nodevoy {

// True when every checked symbol resolves inside its own library; else *problem explains which
// symbol resolves where.
bool checkSymbolIsolation(std::string* problem);

}  // namespace nodevoy
