// Reads the dynamic symbol tables of the objects mapped in this process (the executable, its
// libraries, preloaded and dlopen'ed ones) straight from memory: no files, no external tools.
// Used once at program init by the symbol-isolation check; any thread, but the link map must not
// change while the result is in use (the objects' memory is borrowed, not copied).
#pragma once

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nodevoy::elf {

// A name's hash for both table formats, computed once and reused for every object's lookup.
struct SymbolHash {
  explicit SymbolHash(std::string_view name);
  uint32_t gnu;   // DT_GNU_HASH
  uint32_t sysv;  // DT_HASH
};

struct Symbol {
  std::string_view name;
  unsigned char type;  // STT_FUNC, STT_OBJECT, STT_TLS, ...
  bool defined;        // false: an import (SHN_UNDEF)
};

class LoadedObject;
std::vector<LoadedObject> loadedObjects(std::vector<std::string>* skipped);

class LoadedObject {
 public:
  // Reads the dynamic section of one object from dl_iterate_phdr. nullopt (with *why) when the
  // object has no dynamic symbol table or its tables lie outside its mapped segments.
  static std::optional<LoadedObject> read(const dl_phdr_info& info, std::string* why);

  // Path as the dynamic linker reports it; the main executable's is resolved through /proc.
  const std::string& path() const { return path_; }
  bool isMainExecutable() const { return main_executable_; }
  std::string_view soname() const { return soname_; }
  // DT_SONAME if any, else the file name: how messages name a library.
  std::string_view displayName() const;
  const std::vector<std::string_view>& needed() const { return needed_; }
  bool contains(uintptr_t address) const;
  // "gnu" (DT_GNU_HASH, preferred like ld.so does) or "sysv" (DT_HASH).
  std::string_view hashTable() const { return gnu_hash_ != nullptr ? "gnu" : "sysv"; }

  // The symbols other objects can bind to (definitions) and the ones this object needs from others
  // (imports), global or weak. The section index is checked before the name is read, so walking
  // only the imports of a library with tens of thousands of definitions stays cheap.
  size_t symbolCount() const { return symbol_count_; }
  template <typename Fn>
  void forEachDefinition(Fn&& fn) const {
    forEach(fn, true);
  }
  template <typename Fn>
  void forEachImport(Fn&& fn) const {
    forEach(fn, false);
  }

  // Whether this object defines `name` for other objects (through its hash table, as ld.so does).
  bool defines(std::string_view name, const SymbolHash& hash) const;
  // The type of that definition (meaningful only when defines() is true).
  unsigned char definitionType(std::string_view name, const SymbolHash& hash) const;

 private:
  struct Segment {
    uintptr_t start;
    uintptr_t end;
  };

  friend std::vector<LoadedObject> loadedObjects(std::vector<std::string>* skipped);
  LoadedObject() = default;
  bool inSegments(uintptr_t start, size_t length) const;
  template <typename Fn>
  void forEach(Fn& fn, bool definitions) const {
    for (size_t i = 1; i < symbol_count_; ++i) {
      if ((symtab_[i].st_shndx != SHN_UNDEF) != definitions) continue;
      Symbol symbol;
      if (visible(i, &symbol)) fn(symbol);
    }
  }
  bool visible(size_t index, Symbol* out) const;
  const ElfW(Sym)* findDefinition(std::string_view name, const SymbolHash& hash) const;
  const ElfW(Sym)* findGnu(std::string_view name, uint32_t hash) const;
  const ElfW(Sym)* findSysv(std::string_view name, uint32_t hash) const;
  bool matches(const ElfW(Sym)& symbol, std::string_view name) const;
  std::string_view stringAt(size_t offset) const;

  std::string path_;
  bool main_executable_ = false;
  std::string_view soname_;
  std::vector<std::string_view> needed_;
  std::vector<Segment> segments_;

  const ElfW(Sym)* symtab_ = nullptr;
  const char* strtab_ = nullptr;
  size_t strsz_ = 0;
  size_t symbol_count_ = 0;
  const uint32_t* gnu_hash_ = nullptr;
  const uint32_t* sysv_hash_ = nullptr;
};

// Every object in the link map that has a dynamic symbol table, in load order (the executable
// first). *skipped (may be null) collects one line per object that could not be read.
std::vector<LoadedObject> loadedObjects(std::vector<std::string>* skipped);

}  // namespace nodevoy::elf
