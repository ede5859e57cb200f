// Unit tests of the ELF reader (host/module/elf_symbols.cc): it reads this test's own process. The
// fixture library (elf_fixture.c) is built twice next to this binary, with a GNU and with a SysV
// hash table, so both lookups are checked against names whose kind is known; and every definition
// of every loaded object (libc, libstdc++, ld.so, the vDSO, ...) must be found through that object's
// own hash table, which checks the symbol count, both hash functions and both lookups against what
// the real linker wrote.
#include "elf_symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

extern "C" __attribute__((visibility("default"))) int elf_test_executable_marker() { return 1; }

namespace nodevoy::elf {
namespace {

std::string executablePath() {
  char path[4096] = {};
  ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  return length > 0 ? std::string(path, static_cast<size_t>(length)) : std::string();
}

std::string fixturePath(const char* style) {
  std::string self = executablePath();
  return self.substr(0, self.rfind('/')) + "/libelf_fixture_" + style + ".so";
}

bool defines(const LoadedObject& object, const char* name) { return object.defines(name, SymbolHash(name)); }

class ElfSymbols : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* style : {"gnu", "sysv"}) {
      ASSERT_NE(dlopen(fixturePath(style).c_str(), RTLD_NOW | RTLD_LOCAL), nullptr) << dlerror();
    }
  }

  static std::vector<LoadedObject> objects() {
    std::vector<std::string> skipped;
    std::vector<LoadedObject> objects = loadedObjects(&skipped);
    for (const std::string& line : skipped) ADD_FAILURE() << "could not read " << line;
    return objects;
  }

  static const LoadedObject* find(const std::vector<LoadedObject>& objects, const std::string& path) {
    for (const LoadedObject& object : objects) {
      if (object.path() == path) return &object;
    }
    return nullptr;
  }
};

TEST_F(ElfSymbols, TheExecutableComesFirstWithItsPathAndExports) {
  std::vector<LoadedObject> all = objects();
  ASSERT_FALSE(all.empty());
  EXPECT_TRUE(all.front().isMainExecutable());
  EXPECT_EQ(all.front().path(), executablePath());
  EXPECT_TRUE(defines(all.front(), "elf_test_executable_marker"));
}

TEST_F(ElfSymbols, LibcIsReadLikeAnyLibrary) {
  std::vector<LoadedObject> all = objects();
  const LoadedObject* libc = nullptr;
  for (const LoadedObject& object : all) {
    if (object.soname() == "libc.so.6") libc = &object;
  }
  ASSERT_NE(libc, nullptr);
  EXPECT_TRUE(defines(*libc, "malloc"));
  EXPECT_TRUE(defines(*libc, "printf"));
  EXPECT_TRUE(defines(*libc, "stderr"));
  EXPECT_FALSE(defines(*libc, "fixture_function"));
}

// One run per hash-table style.
class FixtureNames : public ElfSymbols, public ::testing::WithParamInterface<const char*> {};

TEST_P(FixtureNames, AreToldApart) {
  const std::string path = fixturePath(GetParam());
  std::vector<LoadedObject> all = objects();
  const LoadedObject* fixture = find(all, path);
  ASSERT_NE(fixture, nullptr) << path << " is not in the link map";
  EXPECT_EQ(fixture->hashTable(), GetParam());
  EXPECT_EQ(fixture->soname(), std::string("libelf_fixture_") + GetParam() + ".so");
  std::vector<std::string_view> needed = fixture->needed();
  EXPECT_NE(std::find(needed.begin(), needed.end(), "libc.so.6"), needed.end());

  for (const char* name : {"fixture_function", "fixture_data", "fixture_weak", "fixture_protected",
                           "fixture_thread_local", "fixture_uses_everything"}) {
    EXPECT_TRUE(defines(*fixture, name)) << name;
  }
  for (const char* name : {"fixture_hidden", "fixture_local", "fixture_import_from_host", "no_such_name", ""}) {
    EXPECT_FALSE(defines(*fixture, name)) << name;
  }
  EXPECT_EQ(fixture->definitionType("fixture_thread_local", SymbolHash("fixture_thread_local")), STT_TLS);
  EXPECT_EQ(fixture->definitionType("fixture_data", SymbolHash("fixture_data")), STT_OBJECT);

  std::vector<std::string> definitions, imports;
  fixture->forEachDefinition([&](const Symbol& symbol) {
    if (symbol.name.starts_with("fixture_")) definitions.emplace_back(symbol.name);
  });
  fixture->forEachImport([&](const Symbol& symbol) { imports.emplace_back(symbol.name); });
  std::sort(definitions.begin(), definitions.end());
  EXPECT_EQ(definitions, (std::vector<std::string>{"fixture_data", "fixture_function", "fixture_protected",
                                                   "fixture_thread_local", "fixture_uses_everything",
                                                   "fixture_weak"}));
  EXPECT_NE(std::find(imports.begin(), imports.end(), "fixture_import_from_host"), imports.end());
  EXPECT_NE(std::find(imports.begin(), imports.end(), "getenv"), imports.end());

  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  void* function = dlsym(handle, "fixture_function");
  dlclose(handle);
  EXPECT_TRUE(fixture->contains(reinterpret_cast<uintptr_t>(function)));
  EXPECT_FALSE(fixture->contains(reinterpret_cast<uintptr_t>(&executablePath)));
}

INSTANTIATE_TEST_SUITE_P(HashStyles, FixtureNames, ::testing::Values("gnu", "sysv"));

TEST_F(ElfSymbols, EveryListedDefinitionIsFoundThroughItsOwnHashTable) {
  size_t objects_read = 0;
  for (const LoadedObject& object : objects()) {
    size_t definitions = 0;
    std::vector<std::string> missing;
    object.forEachDefinition([&](const Symbol& symbol) {
      ++definitions;
      if (!object.defines(symbol.name, SymbolHash(symbol.name))) missing.emplace_back(symbol.name);
    });
    EXPECT_TRUE(missing.empty()) << object.displayName() << ": " << missing.size() << " of " << definitions
                                 << " not found through its " << object.hashTable() << " table, first "
                                 << missing.front();
    ++objects_read;
  }
  EXPECT_GE(objects_read, 7u);  // the executable, the vDSO, libstdc++, libgcc_s, libc, libm, ld.so, fixtures
}

}  // namespace
}  // namespace nodevoy::elf
