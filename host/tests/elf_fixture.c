/* A shared library with one symbol of every kind the ELF reader must tell apart, for
 * elf_symbols_test.cc. Built twice, with a GNU and with a SysV hash table (host/Makefile), so both
 * lookup paths are exercised. */
#include <stdlib.h>

#define EXPORTED __attribute__((visibility("default")))

EXPORTED int fixture_function(int x) { return x + 1; }
EXPORTED int fixture_data = 42;
EXPORTED __attribute__((weak)) int fixture_weak(void) { return 7; }
__attribute__((visibility("protected"))) int fixture_protected(void) { return 8; }
EXPORTED __thread int fixture_thread_local = 3;
__attribute__((visibility("hidden"))) int fixture_hidden(void) { return 9; }
static int fixture_local(void) { return 10; }

/* An import nothing defines; weak, so loading does not fail. */
extern int fixture_import_from_host(void) __attribute__((weak));

EXPORTED int fixture_uses_everything(void) {
  /* getenv: a libc import, so DT_NEEDED lists libc.so.6. */
  return fixture_local() + fixture_hidden() + (fixture_import_from_host ? fixture_import_from_host() : 0) +
         (getenv("NODEVOY_FIXTURE") != NULL);
}
