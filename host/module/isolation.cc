#include "isolation.h"

#include <dlfcn.h>
#include <elf.h>

#include <algorithm>
#include <chrono>
#include <string_view>
#include <unordered_set>

#include "elf_symbols.h"
#include "log.h"

namespace nodevoy {

namespace {

using elf::LoadedObject;
using elf::SymbolHash;

// The C/C++ runtime every object in the process shares by design: names they define are the
// process's, whoever else exports them (tcmalloc's malloc, copy-relocated stderr, libstdc++'s
// std::string instantiations in the executable).
bool isSystemLibrary(std::string_view name) {
  constexpr std::string_view kPrefixes[] = {
      "libc.so.",    "libm.so.",      "libmvec.so.", "libstdc++.so.", "libgcc_s.so.", "libatomic.so.",
      "ld-linux",    "ld64.so.",      "ld.so.",      "libpthread.so.", "libdl.so.",   "librt.so.",
      "libutil.so.", "libresolv.so.", "libanl.so.",  "libnss_",        "linux-vdso.", "linux-gate.",
  };
  for (std::string_view prefix : kPrefixes) {
    if (name.starts_with(prefix)) return true;
  }
  return false;
}

// The C++ runtime's names: std:: and __gnu_cxx:: instantiations, their typeinfo, vtables, guard
// variables and function-local statics. Every object that instantiates them defines them, and the
// one-definition rule makes the copies interchangeable (ld.so unifies them across libraries anyway).
// An instantiation over a dependency's own types comes with that dependency's names, caught apart.
bool isCxxRuntimeName(std::string_view name) {
  if (!name.starts_with("_Z")) return false;
  std::string_view entity = name.substr(2);
  // GV (guard), TH/TW (thread-local init), TI/TS/TV/TT (typeinfo, vtables): what follows names the
  // entity; Z: a static local of the function that follows.
  for (bool stripped = true; stripped;) {
    stripped = false;
    for (std::string_view special : {"GV", "TH", "TW", "TI", "TS", "TV", "TT", "Z"}) {
      if (entity.starts_with(special)) {
        entity.remove_prefix(special.size());
        stripped = true;
      }
    }
  }
  // St: std::, Ss/Si/So/Sd/Sa: std::string, istream, ostream, iostream, allocator; N/NK: nested
  // (a member, const member).
  constexpr std::string_view kRuntimePrefixes[] = {
      "NSt", "NKSt", "St", "NSs", "NKSs", "NSi", "NSo", "NSd", "NKSd", "NSa", "NKSa", "Sa", "Ss", "Si", "So",
      "Sd",  "N9__gnu_cxx", "NK9__gnu_cxx", "N10__cxxabiv1", "NK10__cxxabiv1",
  };
  for (std::string_view prefix : kRuntimePrefixes) {
    if (entity.starts_with(prefix)) return true;
  }
  return false;
}

// Names that may be shared whatever defines them: the Envoy callbacks (the module is meant to bind
// to them), the hooks every dynamic module defines (Envoy calls them through each module's own
// handle, so a module loaded globally takes nothing of ours), the allocator the process interposes on purpose, linker-generated markers, and the
// C/C++ runtime's support names.
bool expectedEverywhere(std::string_view name) {
  constexpr std::string_view kPrefixes[] = {
      "envoy_dynamic_module_callback_", "envoy_dynamic_module_on_",
      // operator new / delete, every overload
      "_Znw", "_Zna", "_Zdl", "_Zda",
      // the allocators' own names (gperftools and Google tcmalloc, jemalloc-style sized calls)
      "tc_", "TCMalloc", "MallocExtension", "MallocHook", "_ZN15MallocExtension", "_ZNK15MallocExtension",
      "_ZN10MallocHook", "_ZN8tcmalloc", "_ZNK8tcmalloc", "__libc_",
      // C++ ABI support
      "__cxa_", "__gxx_", "_Unwind_", "__gcc_personality",
  };
  static const std::unordered_set<std::string_view> kNames = {
      "malloc", "free", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign", "aligned_alloc",
      "valloc", "pvalloc", "malloc_usable_size", "cfree", "mallinfo", "mallinfo2", "mallopt", "malloc_stats",
      "malloc_trim", "malloc_info", "sdallocx", "nallocx", "mmap", "mmap64", "munmap", "mremap", "sbrk",
      // linker-generated
      "_init", "_fini", "_edata", "_end", "end", "edata", "etext", "_etext", "__bss_start", "__data_start",
      "data_start", "_IO_stdin_used", "__dso_handle", "_DYNAMIC", "_GLOBAL_OFFSET_TABLE_", "__TMC_END__",
      "__gmon_start__", "_ITM_registerTMCloneTable", "_ITM_deregisterTMCloneTable", "_Jv_RegisterClasses",
  };
  for (std::string_view prefix : kPrefixes) {
    if (name.starts_with(prefix)) return true;
  }
  if (kNames.count(name) != 0) return true;
  return isCxxRuntimeName(name);
}

const LoadedObject* objectContaining(const std::vector<const LoadedObject*>& objects, uintptr_t address) {
  for (const LoadedObject* object : objects) {
    if (object->contains(address)) return object;
  }
  return nullptr;
}

// Where a lookup from libnodevoy's scope lands. ld.so searches the global scope first, then the
// group libnodevoy was loaded with; libnode and its libraries were loaded in that group, so their
// references resolve the same way. Objects another module loaded RTLD_LOCAL are not searched.
struct Resolution {
  bool found = false;                    // some object in scope defines the name
  const LoadedObject* object = nullptr;  // which one, when it is one we could read
};

Resolution resolve(const std::vector<const LoadedObject*>& all, std::string_view name) {
  std::string terminated(name);
  void* address = dlsym(RTLD_DEFAULT, terminated.c_str());
  if (address == nullptr) return {};
  return {true, objectContaining(all, reinterpret_cast<uintptr_t>(address))};
}

}  // namespace

IsolationFindings findSymbolClashes() {
  const auto started = std::chrono::steady_clock::now();
  IsolationFindings findings;
  const std::vector<LoadedObject> objects = elf::loadedObjects(&findings.unreadable);
  std::vector<const LoadedObject*> all;
  for (const LoadedObject& object : objects) all.push_back(&object);

  auto findByName = [&](std::string_view needed) -> const LoadedObject* {
    for (const LoadedObject& object : objects) {
      if (object.soname() == needed || (!object.isMainExecutable() && object.displayName() == needed)) return &object;
    }
    return nullptr;
  };

  // libnodevoy and its dependency closure (libnode and what libnode loads), minus the shared runtime.
  std::vector<const LoadedObject*> dependencies;
  std::unordered_set<const LoadedObject*> in_dependencies;
  auto addDependency = [&](const LoadedObject* object) {
    if (object != nullptr && !isSystemLibrary(object->displayName()) && in_dependencies.insert(object).second) {
      dependencies.push_back(object);
    }
  };
  addDependency(objectContaining(all, reinterpret_cast<uintptr_t>(&findSymbolClashes)));  // libnodevoy itself
  for (const LoadedObject& object : objects) {
    if (object.soname().starts_with("libnode.so")) addDependency(&object);
  }
  for (size_t i = 0; i < dependencies.size(); ++i) {
    for (std::string_view needed : dependencies[i]->needed()) addDependency(findByName(needed));
  }

  std::vector<const LoadedObject*> system, host;
  for (const LoadedObject* object : all) {
    if (in_dependencies.count(object) != 0) continue;
    (isSystemLibrary(object->displayName()) ? system : host).push_back(object);
  }
  findings.host_objects = host.size();
  findings.dependency_objects = dependencies.size();

  const auto isSystem = [&](const LoadedObject* object) {
    return std::find(system.begin(), system.end(), object) != system.end();
  };
  const auto definedBy = [](const std::vector<const LoadedObject*>& among, std::string_view name,
                            const SymbolHash& hash) -> const LoadedObject* {
    for (const LoadedObject* object : among) {
      if (object->defines(name, hash)) return object;
    }
    return nullptr;
  };
  // An overlap found in the tables; kept if the C runtime does not define the name and ld.so's own
  // lookup lands in a host object.
  std::unordered_set<std::string_view> seen;
  const auto consider = [&](std::string_view name, const SymbolHash& hash, const LoadedObject* exporter,
                            const LoadedObject* owner) {
    if (!seen.insert(name).second || definedBy(system, name, hash) != nullptr) return;
    const LoadedObject* provider = exporter;
    // Thread-local names have no single address to compare; every other one is confirmed.
    if (exporter->definitionType(name, hash) != STT_TLS) {
      const Resolution resolved = resolve(all, name);
      // Not found from here, or found in libnode's side or the C runtime: the exporter is not in
      // the global scope (loaded RTLD_LOCAL by someone else, or in another namespace).
      if (!resolved.found) return;
      if (resolved.object != nullptr) {
        if (in_dependencies.count(resolved.object) != 0 || isSystem(resolved.object)) return;
        provider = resolved.object;
      }
    }
    findings.clashes.push_back(SymbolClash{std::string(name), std::string(owner->displayName()), provider->path(),
                                           provider->isMainExecutable()});
  };

  // Both directions go through the other side's hash tables, as ld.so does, so nothing is copied
  // and libnode's ~57,000 definitions are never walked. 1: names the host defines that a
  // dependency defines too (the dependency's own calls to them would go to the host).
  for (const LoadedObject* object : host) {
    object->forEachDefinition([&](const elf::Symbol& symbol) {
      ++findings.host_names;
      if (expectedEverywhere(symbol.name)) return;
      const SymbolHash hash(symbol.name);
      if (const LoadedObject* owner = definedBy(dependencies, symbol.name, hash)) consider(symbol.name, hash, object, owner);
    });
  }
  // 2: names a dependency imports (from another dependency, usually) that the host defines.
  for (const LoadedObject* dependency : dependencies) {
    findings.dependency_symbols += dependency->symbolCount();
    dependency->forEachImport([&](const elf::Symbol& symbol) {
      if (expectedEverywhere(symbol.name)) return;
      const SymbolHash hash(symbol.name);
      const LoadedObject* exporter = definedBy(host, symbol.name, hash);
      if (exporter == nullptr) return;
      const LoadedObject* owner = definedBy(dependencies, symbol.name, hash);
      consider(symbol.name, hash, exporter, owner != nullptr ? owner : dependency);
    });
  }
  findings.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return findings;
}

std::string describeSymbolClashes(const IsolationFindings& findings) {
  constexpr size_t kListed = 5;
  std::string message = "the host process exports " + std::to_string(findings.clashes.size()) +
                        (findings.clashes.size() == 1 ? " name" : " names") +
                        " that libnode's own libraries define or call, so libnode would call into the host "
                        "instead: ";
  std::vector<std::string> libraries_loaded_globally;
  bool executable = false;
  for (size_t i = 0; i < findings.clashes.size(); ++i) {
    const SymbolClash& clash = findings.clashes[i];
    if (clash.provider_is_executable) {
      executable = true;
    } else if (std::find(libraries_loaded_globally.begin(), libraries_loaded_globally.end(), clash.provider) ==
               libraries_loaded_globally.end()) {
      libraries_loaded_globally.push_back(clash.provider);
    }
    if (i < kListed) {
      message += (i == 0 ? "" : ", ") + clash.symbol + " (" + clash.library + ", exported by " + clash.provider + ")";
    }
  }
  if (findings.clashes.size() > kListed) {
    message += " and " + std::to_string(findings.clashes.size() - kListed) + " more";
  }
  message += ".";
  if (executable) {
    message +=
        " The executable exports them: run an Envoy release build, which exports only its dynamic-module "
        "callbacks and its allocator; builds with --define exported_symbols=enabled (or linked with -rdynamic) "
        "export every name they contain and cannot host libnodevoy.";
  }
  for (const std::string& library : libraries_loaded_globally) {
    message += " " + library +
               " is in the process's global scope (LD_PRELOAD, a dependency of the executable, or dlopen with "
               "RTLD_GLOBAL): remove it from there.";
  }
  return message;
}

bool checkSymbolIsolation(std::string* problem) {
  const IsolationFindings findings = findSymbolClashes();
  NV_DEBUG("symbol isolation: %zu host objects exporting %zu names compared with %zu libnode-side objects "
           "(%zu symbols): %zu clashes, %.3f ms",
           findings.host_objects, findings.host_names, findings.dependency_objects, findings.dependency_symbols,
           findings.clashes.size(), findings.elapsed_ms);
  for (const std::string& unreadable : findings.unreadable) {
    NV_DEBUG("symbol isolation: skipped %s", unreadable.c_str());
  }
  if (findings.clashes.empty()) return true;
  *problem = describeSymbolClashes(findings);
  return false;
}

}  // namespace nodevoy
