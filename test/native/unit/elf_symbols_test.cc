// Unit test of host/module/elf_symbols: reads this process's link map and checks what it finds
// against what the fixture libraries (elf_fixture.c, one per hash-table style) are known to hold,
// and every object's enumerated definitions against its own hash table. Prints TAP lines; exit
// status 1 when any check fails. Run by test/module/elf-symbols.test.ts with the fixtures' paths.
#include <dlfcn.h>
#include <elf.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "elf_symbols.h"

using nodevoy::elf::LoadedObject;
using nodevoy::elf::Symbol;
using nodevoy::elf::SymbolHash;

namespace {

int checks = 0;
int failures = 0;

void check(bool ok, const std::string& what) {
  ++checks;
  if (!ok) ++failures;
  printf("%s %d - %s\n", ok ? "ok" : "not ok", checks, what.c_str());
}

bool defines(const LoadedObject& object, const char* name) { return object.defines(name, SymbolHash(name)); }

const LoadedObject* findByPath(const std::vector<LoadedObject>& objects, const std::string& path) {
  for (const LoadedObject& object : objects) {
    if (object.path() == path) return &object;
  }
  return nullptr;
}

void checkFixture(const std::vector<LoadedObject>& objects, const std::string& path, const char* style) {
  const std::string label = std::string("fixture (") + style + " hash): ";
  const LoadedObject* fixture = findByPath(objects, path);
  check(fixture != nullptr, label + "found in the link map at " + path);
  if (fixture == nullptr) return;
  check(fixture->hashTable() == std::string_view(style), label + "read through its " + style + " table");
  check(fixture->soname() == std::string("libelf_fixture_") + style + ".so", label + "soname read");
  bool needs_libc = false;
  for (std::string_view needed : fixture->needed()) needs_libc |= needed == "libc.so.6";
  check(needs_libc, label + "DT_NEEDED lists libc.so.6");

  for (const char* name : {"fixture_function", "fixture_data", "fixture_weak", "fixture_protected",
                           "fixture_thread_local", "fixture_uses_everything"}) {
    check(defines(*fixture, name), label + "defines " + name);
  }
  for (const char* name : {"fixture_hidden", "fixture_local", "fixture_import_from_host", "no_such_name", ""}) {
    check(!defines(*fixture, name), label + "does not define '" + name + "'");
  }
  check(fixture->definitionType("fixture_thread_local", SymbolHash("fixture_thread_local")) == STT_TLS,
        label + "fixture_thread_local is thread-local");
  check(fixture->definitionType("fixture_data", SymbolHash("fixture_data")) == STT_OBJECT,
        label + "fixture_data is data");

  bool imports = false, lists_hidden = false;
  size_t defined = 0;
  fixture->forEachImport([&](const Symbol& symbol) {
    if (symbol.name == "fixture_import_from_host") imports = !symbol.defined;
  });
  fixture->forEachDefinition([&](const Symbol& symbol) {
    if (symbol.name == "fixture_hidden" || symbol.name == "fixture_local") lists_hidden = true;
    if (symbol.defined && symbol.name.starts_with("fixture_")) ++defined;
  });
  check(imports, label + "lists fixture_import_from_host as an import");
  check(!lists_hidden, label + "does not list hidden or static symbols");
  check(defined == 6, label + "lists its 6 exported definitions (got " + std::to_string(defined) + ")");

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  void* function = handle != nullptr ? dlsym(handle, "fixture_function") : nullptr;
  check(function != nullptr && fixture->contains(reinterpret_cast<uintptr_t>(function)),
        label + "contains the address dlsym gives for fixture_function");
  check(!fixture->contains(reinterpret_cast<uintptr_t>(&checks)), label + "does not contain the test's own data");
  if (handle != nullptr) dlclose(handle);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) int elf_test_executable_marker() { return 1; }

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s <libelf_fixture_gnu.so> <libelf_fixture_sysv.so>\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    if (dlopen(argv[i], RTLD_NOW | RTLD_LOCAL) == nullptr) {
      fprintf(stderr, "cannot load %s: %s\n", argv[i], dlerror());
      return 2;
    }
  }

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> skipped;
  const std::vector<LoadedObject> objects = nodevoy::elf::loadedObjects(&skipped);
  const double read_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  for (const std::string& line : skipped) printf("# skipped %s\n", line.c_str());

  check(!objects.empty() && objects.front().isMainExecutable(), "the executable comes first");
  if (!objects.empty()) {
    char self[4096] = {};
    ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
    check(length > 0 && objects.front().path() == std::string(self, static_cast<size_t>(length)),
          "the executable's path is resolved");
    check(defines(objects.front(), "elf_test_executable_marker"), "the executable's exports are read");
  }

  const LoadedObject* libc = nullptr;
  for (const LoadedObject& object : objects) {
    if (object.soname() == "libc.so.6") libc = &object;
  }
  check(libc != nullptr, "libc.so.6 is in the link map");
  if (libc != nullptr) {
    check(defines(*libc, "malloc") && defines(*libc, "printf") && defines(*libc, "stderr"),
          "libc defines malloc, printf, stderr");
    check(!defines(*libc, "fixture_function"), "libc does not define a fixture name");
  }

  checkFixture(objects, argv[1], "gnu");
  checkFixture(objects, argv[2], "sysv");

  // Every definition an object lists must be found through its own hash table (what ld.so uses),
  // which checks the symbol count, both hash functions and both lookups against the real linker's
  // output for libc, libstdc++, libm, ld.so and the vDSO.
  size_t listed = 0;
  for (const LoadedObject& object : objects) {
    size_t missing = 0, definitions = 0;
    std::string first_missing;
    object.forEachDefinition([&](const Symbol& symbol) {
      ++definitions;
      if (!object.defines(symbol.name, SymbolHash(symbol.name))) {
        if (missing++ == 0) first_missing = std::string(symbol.name);
      }
    });
    listed += definitions;
    check(missing == 0, std::string(object.displayName()) + ": all " + std::to_string(definitions) +
                            " listed definitions found through its " + std::string(object.hashTable()) +
                            " table" + (missing ? " (first missing: " + first_missing + ")" : ""));
  }
  printf("# read %zu objects (%zu definitions) in %.3f ms\n", objects.size(), listed, read_ms);
  printf("1..%d\n", checks);
  return failures == 0 ? 0 : 1;
}
