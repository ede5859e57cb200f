#include "envoy_api.h"

#include <dlfcn.h>

namespace nodevoy {

EnvoyApi envoy;

bool resolveEnvoyApi(std::string* missing) {
  bool ok = true;
  auto resolve = [&](auto& slot, const char* name, bool required) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(RTLD_DEFAULT, name));
    if (slot == nullptr && required && ok) {
      *missing = name;
      ok = false;
    }
  };
#define NV_REQUIRED(name) resolve(envoy.name, "envoy_dynamic_module_callback_" #name, true);
#define NV_OPTIONAL(name) resolve(envoy.name, "envoy_dynamic_module_callback_" #name, false);
  NV_ENVOY_CALLBACKS(NV_REQUIRED, NV_OPTIONAL)
#undef NV_REQUIRED
#undef NV_OPTIONAL
  return ok;
}

}  // namespace nodevoy
