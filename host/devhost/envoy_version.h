// Which Envoy release the dev host imitates (--envoy-version): the behaviours that differ between
// v1.38, v1.39 and v1.40 and matter to a module. The facts, with their Envoy sources, are in
// docs/envoy-facts.md §25.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace devhost {

enum class EnvoyVersion { V1_38 = 138, V1_39 = 139, V1_40 = 140 };

constexpr EnvoyVersion kNewestEnvoyVersion = EnvoyVersion::V1_40;

// "1.38", "1.39", "1.40" (a leading "v" is accepted); nullopt for anything else.
std::optional<EnvoyVersion> parseEnvoyVersion(std::string_view text);
const char* envoyVersionName(EnvoyVersion version);  // "1.38" ...

// Any thread, after start-up: the release being imitated (set once in main, before any thread starts).
EnvoyVersion envoyVersion();
void setEnvoyVersion(EnvoyVersion version);
inline bool envoyAtLeast(EnvoyVersion version) { return static_cast<int>(envoyVersion()) >= static_cast<int>(version); }

// The ABI version string the imitated release compiles in (ENVOY_DYNAMIC_MODULES_ABI_VERSION).
const char* expectedAbiVersion(EnvoyVersion version);

// The export set this executable was linked with: the newest release whose callbacks it all exports,
// found by looking its own newest callbacks up (dlsym(RTLD_DEFAULT), as modules do). Each release has
// its own executable because a symbol the dynamic linker can see cannot be hidden at run time.
EnvoyVersion exportedCallbacksVersion();

// The executable that exports the callbacks of `version`, next to this one: nodevoy-devhost for the
// newest release, nodevoy-devhost-<version> for the others.
std::string executableFor(EnvoyVersion version, const std::string& self_path);

}  // namespace devhost
