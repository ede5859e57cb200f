#include "module.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "envoy_version.h"
#include "log.h"

namespace devhost {

namespace {

bool fileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

std::shared_ptr<DynamicModule> DynamicModule::load(const DynamicModuleSpec& spec, std::string* error) {
  const std::string prefixed_init = spec.name + "_envoy_dynamic_module_on_program_init";
  if (!spec.name.empty() && spec.local_path.empty() && dlsym(RTLD_DEFAULT, prefixed_init.c_str()) != nullptr) {
    *error = "statically linked modules are not supported by the dev host (found " + prefixed_init + ")";
    return nullptr;
  }

  std::string path;
  if (!spec.local_path.empty()) {
    path = spec.local_path;
  } else {
    const char* search = getenv("ENVOY_DYNAMIC_MODULES_SEARCH_PATH");
    std::string candidate = std::string(search && *search ? search : ".") + "/lib" + spec.name + ".so";
    // If the file exists in the search path, its load result is final; otherwise fall back to
    // the dynamic linker's own search (LD_LIBRARY_PATH, system paths).
    path = fileExists(candidate) ? candidate : "lib" + spec.name + ".so";
  }

  // Envoy v1.40 binds every symbol at load time (RTLD_NOW, runtime guard dynamic_modules_rtld_now);
  // earlier releases load lazily, so a module referencing a callback the host lacks still loads and
  // fails only when that call is first made.
  int mode = (envoyAtLeast(EnvoyVersion::V1_40) ? RTLD_NOW : RTLD_LAZY) | (spec.load_globally ? RTLD_GLOBAL : RTLD_LOCAL);
  if (spec.do_not_close) mode |= RTLD_NODELETE;

  // A resident copy is reused without calling its init again. The probe is RTLD_NOLOAD | RTLD_LAZY, as
  // in Envoy: it never promotes a resident copy to RTLD_GLOBAL or RTLD_NODELETE.
  if (void* resident = dlopen(path.c_str(), RTLD_NOLOAD | RTLD_LAZY)) {
    DH_LOG(DynamicModules, Debug, "dynamic module %s already loaded; reusing it", path.c_str());
    return std::shared_ptr<DynamicModule>(new DynamicModule(resident, path, spec.name, spec.do_not_close));
  }

  void* handle = dlopen(path.c_str(), mode);
  if (handle == nullptr) {
    const char* reason = dlerror();
    *error = std::string("Failed to load dynamic module: ") + (reason ? reason : path);
    return nullptr;
  }
  std::shared_ptr<DynamicModule> module(new DynamicModule(handle, path, spec.name, spec.do_not_close));
  auto init = reinterpret_cast<decltype(&envoy_dynamic_module_on_program_init)>(
      module->symbol("envoy_dynamic_module_on_program_init"));
  if (init == nullptr) {
    *error = "Failed to resolve symbol envoy_dynamic_module_on_program_init";
    return nullptr;
  }
  const char* version = init();
  if (version == nullptr) {
    *error = "Failed to initialize dynamic module: " + path;
    return nullptr;
  }
  // Envoy's loader: any other string only warns (the text is Envoy's); symbol resolution decides.
  const char* expected = expectedAbiVersion(envoyVersion());
  if (strcmp(version, expected) != 0) {
    DH_LOG(DynamicModules, Warn,
           "Dynamic module ABI version %s is deprecated. Please recompile the module against the SDK with the exact "
           "Envoy version used by the main program.",
           version);
  } else {
    DH_LOG(DynamicModules, Info, "Dynamic module ABI version %s matched.", version);
  }
  DH_LOG(DynamicModules, Info, "loaded dynamic module %s (ABI version %s)", path.c_str(), version);
  return module;
}

DynamicModule::~DynamicModule() {
  if (handle_ != nullptr && !do_not_close_) dlclose(handle_);
}

void* DynamicModule::symbol(const char* name) const { return dlsym(handle_, name); }

const HttpFilterHooks* DynamicModule::httpFilterHooks(std::string* error) {
  if (http_resolved_) return &hooks_;
  bool ok = true;
  auto required = [&](auto& slot, const char* name) {
    if (!ok) return;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(symbol(name));
    if (slot == nullptr) {
      *error = std::string("Failed to resolve symbol ") + name;
      ok = false;
    }
  };
  auto optional = [&](auto& slot, const char* name) {
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(symbol(name));
  };
  HttpFilterHooks h{};
  required(h.config_new, "envoy_dynamic_module_on_http_filter_config_new");
  required(h.config_destroy, "envoy_dynamic_module_on_http_filter_config_destroy");
  required(h.filter_new, "envoy_dynamic_module_on_http_filter_new");
  required(h.request_headers, "envoy_dynamic_module_on_http_filter_request_headers");
  required(h.request_body, "envoy_dynamic_module_on_http_filter_request_body");
  required(h.request_trailers, "envoy_dynamic_module_on_http_filter_request_trailers");
  required(h.response_headers, "envoy_dynamic_module_on_http_filter_response_headers");
  required(h.response_body, "envoy_dynamic_module_on_http_filter_response_body");
  required(h.response_trailers, "envoy_dynamic_module_on_http_filter_response_trailers");
  required(h.stream_complete, "envoy_dynamic_module_on_http_filter_stream_complete");
  required(h.filter_destroy, "envoy_dynamic_module_on_http_filter_destroy");
  required(h.http_callout_done, "envoy_dynamic_module_on_http_filter_http_callout_done");
  required(h.http_stream_headers, "envoy_dynamic_module_on_http_filter_http_stream_headers");
  required(h.http_stream_data, "envoy_dynamic_module_on_http_filter_http_stream_data");
  required(h.http_stream_trailers, "envoy_dynamic_module_on_http_filter_http_stream_trailers");
  required(h.http_stream_complete, "envoy_dynamic_module_on_http_filter_http_stream_complete");
  required(h.http_stream_reset, "envoy_dynamic_module_on_http_filter_http_stream_reset");
  required(h.scheduled, "envoy_dynamic_module_on_http_filter_scheduled");
  required(h.above_watermark, "envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark");
  required(h.below_watermark, "envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark");
  if (!ok) return nullptr;
  optional(h.local_reply, "envoy_dynamic_module_on_http_filter_local_reply");
  optional(h.config_scheduled, "envoy_dynamic_module_on_http_filter_config_scheduled");
  optional(h.per_route_config_new, "envoy_dynamic_module_on_http_filter_per_route_config_new");
  optional(h.per_route_config_destroy, "envoy_dynamic_module_on_http_filter_per_route_config_destroy");
  hooks_ = h;
  http_resolved_ = true;
  return &hooks_;
}

bool DynamicModule::resolvePerRouteHooks(std::string* error) {
  if (!httpFilterHooks(error)) return false;
  if (hooks_.per_route_config_new == nullptr) {
    *error = "Failed to resolve symbol envoy_dynamic_module_on_http_filter_per_route_config_new";
    return false;
  }
  if (hooks_.per_route_config_destroy == nullptr) {
    *error = "Failed to resolve symbol envoy_dynamic_module_on_http_filter_per_route_config_destroy";
    return false;
  }
  return true;
}

}  // namespace devhost
