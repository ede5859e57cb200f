#include "envoy_version.h"

#include <dlfcn.h>

#include <atomic>

#include "nodevoy_envoy_abi.h"

namespace devhost {

namespace {
std::atomic<EnvoyVersion> g_version{kNewestEnvoyVersion};
}  // namespace

std::optional<EnvoyVersion> parseEnvoyVersion(std::string_view text) {
  if (!text.empty() && (text[0] == 'v' || text[0] == 'V')) text.remove_prefix(1);
  if (text == "1.38") return EnvoyVersion::V1_38;
  if (text == "1.39") return EnvoyVersion::V1_39;
  if (text == "1.40") return EnvoyVersion::V1_40;
  return std::nullopt;
}

const char* envoyVersionName(EnvoyVersion version) {
  switch (version) {
    case EnvoyVersion::V1_38: return "1.38";
    case EnvoyVersion::V1_39: return "1.39";
    case EnvoyVersion::V1_40: return "1.40";
  }
  return "?";
}

EnvoyVersion envoyVersion() { return g_version.load(std::memory_order_relaxed); }

void setEnvoyVersion(EnvoyVersion version) { g_version.store(version, std::memory_order_relaxed); }

const char* expectedAbiVersion(EnvoyVersion version) {
  return version == EnvoyVersion::V1_40 ? NV_ABI_VERSION_V1_40 : NV_ABI_VERSION_V1_38;
}

EnvoyVersion exportedCallbacksVersion() {
  if (dlsym(RTLD_DEFAULT, "envoy_dynamic_module_callback_log_v2") != nullptr) return EnvoyVersion::V1_40;
  if (dlsym(RTLD_DEFAULT, "envoy_dynamic_module_callback_get_log_level") != nullptr) return EnvoyVersion::V1_39;
  return EnvoyVersion::V1_38;
}

std::string executableFor(EnvoyVersion version, const std::string& self_path) {
  const size_t slash = self_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : self_path.substr(0, slash);
  if (version == kNewestEnvoyVersion) return dir + "/nodevoy-devhost";
  return dir + "/nodevoy-devhost-" + envoyVersionName(version);
}

}  // namespace devhost
