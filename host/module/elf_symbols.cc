#include "elf_symbols.h"

#include <elf.h>
#include <unistd.h>

#include <cstring>

namespace nodevoy::elf {

namespace {

uint32_t gnuHash(std::string_view name) {
  uint32_t h = 5381;
  for (unsigned char c : name) h = h * 33 + c;
  return h;
}

uint32_t sysvHash(std::string_view name) {
  uint32_t h = 0;
  for (unsigned char c : name) {
    h = (h << 4) + c;
    uint32_t high = h & 0xf0000000u;
    if (high != 0) h ^= high >> 24;
    h &= ~high;
  }
  return h;
}

bool visibleBinding(const ElfW(Sym)& symbol) {
  unsigned bind = ELF64_ST_BIND(symbol.st_info);
  unsigned visibility = ELF64_ST_VISIBILITY(symbol.st_other);
  unsigned type = ELF64_ST_TYPE(symbol.st_info);
  return (bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE) &&
         (visibility == STV_DEFAULT || visibility == STV_PROTECTED) && type != STT_SECTION && type != STT_FILE;
}

// The definitions ld.so binds references to (its do_lookup rules): defined, a binding type it
// accepts, and a non-zero value unless thread-local. Version-name entries (value 0) drop out here.
bool bindableDefinition(const ElfW(Sym)& symbol) {
  if (symbol.st_shndx == SHN_UNDEF || !visibleBinding(symbol)) return false;
  unsigned type = ELF64_ST_TYPE(symbol.st_info);
  bool allowed = type == STT_NOTYPE || type == STT_OBJECT || type == STT_FUNC || type == STT_COMMON ||
                 type == STT_TLS || type == STT_GNU_IFUNC;
  return allowed && (symbol.st_value != 0 || type == STT_TLS);
}

std::string mainExecutablePath() {
  char buffer[4096];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  return length > 0 ? std::string(buffer, static_cast<size_t>(length)) : std::string("the executable");
}

}  // namespace

SymbolHash::SymbolHash(std::string_view name) : gnu(gnuHash(name)), sysv(sysvHash(name)) {}

std::string_view LoadedObject::displayName() const {
  if (!soname_.empty()) return soname_;
  std::string_view path(path_);
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool LoadedObject::contains(uintptr_t address) const {
  for (const Segment& segment : segments_) {
    if (address >= segment.start && address < segment.end) return true;
  }
  return false;
}

bool LoadedObject::inSegments(uintptr_t start, size_t length) const {
  for (const Segment& segment : segments_) {
    if (start >= segment.start && start <= segment.end && length <= segment.end - start) return true;
  }
  return false;
}

std::string_view LoadedObject::stringAt(size_t offset) const {
  if (offset >= strsz_) return {};
  const char* text = strtab_ + offset;
  return std::string_view(text, strnlen(text, strsz_ - offset));
}

std::optional<LoadedObject> LoadedObject::read(const dl_phdr_info& info, std::string* why) {
  LoadedObject object;
  const uintptr_t base = info.dlpi_addr;
  const ElfW(Dyn)* dynamic = nullptr;
  size_t dynamic_entries = 0;
  for (ElfW(Half) i = 0; i < info.dlpi_phnum; ++i) {
    const ElfW(Phdr)& header = info.dlpi_phdr[i];
    if (header.p_type == PT_LOAD && (header.p_flags & PF_R) != 0) {
      object.segments_.push_back({base + header.p_vaddr, base + header.p_vaddr + header.p_memsz});
    } else if (header.p_type == PT_DYNAMIC) {
      dynamic = reinterpret_cast<const ElfW(Dyn)*>(base + header.p_vaddr);
      dynamic_entries = header.p_memsz / sizeof(ElfW(Dyn));
    }
  }
  const char* name = info.dlpi_name != nullptr ? info.dlpi_name : "";
  object.path_ = name;
  if (dynamic == nullptr) {
    *why = object.path_ + ": no dynamic section";
    return std::nullopt;
  }

  // glibc rewrites most address entries to absolute addresses after loading, but not where the
  // dynamic section is read-only (the vDSO): accept either form, as long as it lands inside the object.
  auto absolute = [&](ElfW(Addr) value) -> uintptr_t {
    if (object.contains(value)) return value;
    if (object.contains(value + base)) return value + base;
    return 0;
  };
  uintptr_t symtab = 0, strtab = 0, gnu_hash = 0, sysv_hash = 0;
  size_t syment = sizeof(ElfW(Sym)), soname_offset = SIZE_MAX;
  std::vector<size_t> needed_offsets;
  for (const ElfW(Dyn)* entry = dynamic; entry < dynamic + dynamic_entries && entry->d_tag != DT_NULL; ++entry) {
    switch (entry->d_tag) {
      case DT_SYMTAB: symtab = absolute(entry->d_un.d_ptr); break;
      case DT_STRTAB: strtab = absolute(entry->d_un.d_ptr); break;
      case DT_STRSZ: object.strsz_ = entry->d_un.d_val; break;
      case DT_SYMENT: syment = entry->d_un.d_val; break;
      case DT_GNU_HASH: gnu_hash = absolute(entry->d_un.d_ptr); break;
      case DT_HASH: sysv_hash = absolute(entry->d_un.d_ptr); break;
      case DT_SONAME: soname_offset = entry->d_un.d_val; break;
      case DT_NEEDED: needed_offsets.push_back(entry->d_un.d_val); break;
      default: break;
    }
  }
  if (symtab == 0 || strtab == 0 || (gnu_hash == 0 && sysv_hash == 0) || syment != sizeof(ElfW(Sym)) ||
      !object.inSegments(strtab, object.strsz_)) {
    *why = object.path_ + ": no readable dynamic symbol table";
    return std::nullopt;
  }
  object.symtab_ = reinterpret_cast<const ElfW(Sym)*>(symtab);
  object.strtab_ = reinterpret_cast<const char*>(strtab);
  if (soname_offset != SIZE_MAX) object.soname_ = object.stringAt(soname_offset);
  for (size_t offset : needed_offsets) object.needed_.push_back(object.stringAt(offset));

  // The symbol count is not stored anywhere for DT_GNU_HASH: it ends after the last chain that the
  // highest bucket starts.
  if (gnu_hash != 0 && object.inSegments(gnu_hash, 4 * sizeof(uint32_t))) {
    const uint32_t* header = reinterpret_cast<const uint32_t*>(gnu_hash);
    const uint32_t buckets = header[0], symoffset = header[1], bloom_words = header[2];
    const uintptr_t bucket_start = gnu_hash + 4 * sizeof(uint32_t) + bloom_words * sizeof(ElfW(Addr));
    const uintptr_t bucket_end = bucket_start + size_t(buckets) * sizeof(uint32_t);
    if (buckets != 0 && object.inSegments(gnu_hash, bucket_end - gnu_hash)) {
      const uint32_t* bucket = reinterpret_cast<const uint32_t*>(bucket_start);
      const uint32_t* chain = bucket + buckets;
      uint32_t last = 0;
      for (uint32_t i = 0; i < buckets; ++i) last = bucket[i] > last ? bucket[i] : last;
      size_t count = symoffset;
      if (last >= symoffset) {
        while (object.inSegments(reinterpret_cast<uintptr_t>(chain + (last - symoffset)), sizeof(uint32_t)) &&
               (chain[last - symoffset] & 1u) == 0) {
          ++last;
        }
        count = static_cast<size_t>(last) + 1;
      }
      object.gnu_hash_ = header;
      object.symbol_count_ = count;
    }
  }
  if (sysv_hash != 0 && object.inSegments(sysv_hash, 2 * sizeof(uint32_t))) {
    const uint32_t* header = reinterpret_cast<const uint32_t*>(sysv_hash);
    if (object.inSegments(sysv_hash, (2 + size_t(header[0]) + header[1]) * sizeof(uint32_t))) {
      object.sysv_hash_ = header;
      if (object.gnu_hash_ == nullptr) object.symbol_count_ = header[1];
    }
  }
  if ((object.gnu_hash_ == nullptr && object.sysv_hash_ == nullptr) ||
      !object.inSegments(symtab, object.symbol_count_ * sizeof(ElfW(Sym)))) {
    *why = object.path_ + ": its symbol hash table or symbol table is out of bounds";
    return std::nullopt;
  }
  return object;
}

bool LoadedObject::visible(size_t index, Symbol* out) const {
  const ElfW(Sym)& symbol = symtab_[index];
  if (!visibleBinding(symbol)) return false;
  out->defined = symbol.st_shndx != SHN_UNDEF;
  // Definitions ld.so would never bind to (version names, zero-valued entries) are not listed.
  if (out->defined && !bindableDefinition(symbol)) return false;
  out->name = stringAt(symbol.st_name);
  out->type = ELF64_ST_TYPE(symbol.st_info);
  return !out->name.empty();
}

bool LoadedObject::matches(const ElfW(Sym)& symbol, std::string_view name) const {
  return bindableDefinition(symbol) && stringAt(symbol.st_name) == name;
}

const ElfW(Sym)* LoadedObject::findGnu(std::string_view name, uint32_t hash) const {
  const uint32_t buckets = gnu_hash_[0], symoffset = gnu_hash_[1], bloom_words = gnu_hash_[2], shift = gnu_hash_[3];
  const ElfW(Addr)* bloom = reinterpret_cast<const ElfW(Addr)*>(gnu_hash_ + 4);
  constexpr uint32_t kBits = sizeof(ElfW(Addr)) * 8;
  if (bloom_words != 0) {
    ElfW(Addr) word = bloom[(hash / kBits) % bloom_words];
    ElfW(Addr) mask = (ElfW(Addr)(1) << (hash % kBits)) | (ElfW(Addr)(1) << ((hash >> shift) % kBits));
    if ((word & mask) != mask) return nullptr;
  }
  const uint32_t* bucket = reinterpret_cast<const uint32_t*>(bloom + bloom_words);
  const uint32_t* chain = bucket + buckets;
  uint32_t index = bucket[hash % buckets];
  if (index < symoffset) return nullptr;
  for (; index < symbol_count_; ++index) {
    uint32_t entry = chain[index - symoffset];
    if ((entry | 1u) == (hash | 1u) && matches(symtab_[index], name)) return &symtab_[index];
    if ((entry & 1u) != 0) break;
  }
  return nullptr;
}

const ElfW(Sym)* LoadedObject::findSysv(std::string_view name, uint32_t hash) const {
  const uint32_t buckets = sysv_hash_[0], chains = sysv_hash_[1];
  if (buckets == 0) return nullptr;
  const uint32_t* bucket = sysv_hash_ + 2;
  const uint32_t* chain = bucket + buckets;
  // Bounded by the chain count, so a corrupt (cyclic) chain cannot loop forever.
  uint32_t steps = 0;
  for (uint32_t index = bucket[hash % buckets]; index != STN_UNDEF && index < chains && steps <= chains;
       index = chain[index], ++steps) {
    if (matches(symtab_[index], name)) return &symtab_[index];
  }
  return nullptr;
}

const ElfW(Sym)* LoadedObject::findDefinition(std::string_view name, const SymbolHash& hash) const {
  return gnu_hash_ != nullptr ? findGnu(name, hash.gnu) : findSysv(name, hash.sysv);
}

bool LoadedObject::defines(std::string_view name, const SymbolHash& hash) const {
  return findDefinition(name, hash) != nullptr;
}

unsigned char LoadedObject::definitionType(std::string_view name, const SymbolHash& hash) const {
  const ElfW(Sym)* symbol = findDefinition(name, hash);
  return symbol != nullptr ? ELF64_ST_TYPE(symbol->st_info) : STT_NOTYPE;
}

std::vector<LoadedObject> loadedObjects(std::vector<std::string>* skipped) {
  struct Walk {
    std::vector<LoadedObject> objects;
    std::vector<std::string>* skipped;
    bool first = true;
  } walk{{}, skipped};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        Walk& walk = *static_cast<Walk*>(data);
        const bool main_executable = walk.first;
        walk.first = false;
        std::string why;
        std::optional<LoadedObject> object = LoadedObject::read(*info, &why);
        if (!object) {
          // A static executable or an object without exports has nothing to compare.
          if (walk.skipped != nullptr) walk.skipped->push_back(main_executable ? mainExecutablePath() + why : why);
          return 0;
        }
        if (main_executable) {
          object->main_executable_ = true;
          object->path_ = mainExecutablePath();
        }
        walk.objects.push_back(std::move(*object));
        return 0;
      },
      &walk);
  return std::move(walk.objects);
}

}  // namespace nodevoy::elf
