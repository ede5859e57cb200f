/* Shared by the decoys: every decoy function reports on stderr that it ran, so a test can show that
 * libnodevoy refused to load before anything called into the host's copy of a name. A header, not a
 * .c file: host/Makefile builds every .c file here into a library of its own. */
#ifndef NODEVOY_TEST_DECOY_H
#define NODEVOY_TEST_DECOY_H

#include <string.h>
#include <unistd.h>

#define DECOY __attribute__((visibility("default")))

static inline void decoy_called(const char* name) {
  static const char prefix[] = "decoy called: ";
  (void)!write(2, prefix, sizeof(prefix) - 1);
  (void)!write(2, name, strlen(name));
  (void)!write(2, "\n", 1);
}

#endif /* NODEVOY_TEST_DECOY_H */
