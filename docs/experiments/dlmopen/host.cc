// The host half of the dlmopen experiment (docs/symbol-isolation.md): loads embedder.so with dlopen
// or dlmopen(LM_ID_NEWLM) and runs JavaScript in it. Built twice by run.sh: with tcmalloc linked in
// and interposing malloc (as Envoy and the dev host are), and with glibc's malloc.
//   host <dlopen|dlmopen> <embedder.so> <own-threads N | host-thread | cross-free>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

void hostLog(const char* line) { fprintf(stderr, "  %s\n", line); }

const char kSource[] =
    "const crypto = require('crypto'); const zlib = require('zlib');"
    "const hash = crypto.createHash('sha256').update('abc').digest('hex').slice(0, 12);"
    "const inflated = zlib.inflateSync(zlib.deflateSync('zlib')).toString();"
    "const brotli = zlib.brotliDecompressSync(zlib.brotliCompressSync('brotli')).toString();"
    "const icu = new Intl.DateTimeFormat('de-DE', { timeZone: 'UTC' }).format(new Date(0));"
    "globalThis.result = 'pending';"
    "crypto.pbkdf2('p', 's', 1000, 8, 'sha256', (error, key) => setTimeout(() => {"
    "  globalThis.result = [hash, inflated, brotli, icu, key.toString('hex')].join(' '); }, 5));";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s <dlopen|dlmopen> <embedder.so> <own-threads N|host-thread|cross-free>\n", argv[0]);
    return 2;
  }
  const bool namespaced = strcmp(argv[1], "dlmopen") == 0;
  void* embedder = namespaced ? dlmopen(LM_ID_NEWLM, argv[2], RTLD_NOW | RTLD_LOCAL) : dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (embedder == nullptr) {
    fprintf(stderr, "load failed: %s\n", dlerror());
    return 2;
  }
  using Run = int (*)(const char*, void (*)(const char*), int);
  auto run = reinterpret_cast<Run>(dlsym(embedder, "embedder_run"));
  const char* mode = argv[3];
  int status = 0;
  if (strcmp(mode, "cross-free") == 0) {
    // What the ABI never does, to show what it would cost: the namespace's malloc, the host's free.
    auto allocate = reinterpret_cast<void* (*)(size_t)>(dlsym(embedder, "embedder_allocate"));
    free(allocate(64));
  } else if (strcmp(mode, "host-thread") == 0) {
    // Like an Envoy worker: a thread the host started (its libc, its allocator's thread cache)
    // calling into the embedder.
    std::thread worker([&] {
      free(malloc(64));
      status = run(kSource, hostLog, 0);
    });
    worker.join();
  } else {
    status = run(kSource, hostLog, atoi(mode));
  }
  fprintf(stderr, "  returned %d\n", status);
  return status;
}
