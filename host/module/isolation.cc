#include "isolation.h"

#include <dlfcn.h>

namespace nodevoy {

namespace {

struct Expected {
  const char* symbol;
  const char* library;  // soname of the library that must provide it
};

// One symbol per library libnode binds to at run time.
constexpr Expected kChecks[] = {
    {"uv_version", "libuv.so.1"},
    {"OPENSSL_init_ssl", "libssl.so.3"},
    {"OpenSSL_version_num", "libcrypto.so.3"},
    {"napi_create_object", "libnode.so.108"},
    {"_ZN2v82V810InitializeEv", "libnode.so.108"},  // v8::V8::Initialize()
};

}  // namespace

bool checkSymbolIsolation(std::string* problem) {
  for (const auto& check : kChecks) {
    void* library = dlopen(check.library, RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) continue;  // not loaded in this process: nothing to hijack
    void* own = dlsym(library, check.symbol);
    void* resolved = dlsym(RTLD_DEFAULT, check.symbol);
    dlclose(library);
    if (own == nullptr || resolved == nullptr || own == resolved) continue;
    Dl_info info{};
    dladdr(resolved, &info);
    *problem = std::string(check.symbol) + " resolves to " + (info.dli_fname ? info.dli_fname : "another object") +
               " instead of " + check.library +
               ": the host process exports symbols that would replace libnode's dependencies (Envoy built with "
               "--define exported_symbols=enabled?). Use an Envoy build that exports only its dynamic-module "
               "callbacks.";
    return false;
  }
  return true;
}

}  // namespace nodevoy
