/* An ICU name. ICU suffixes its names with its major version, so only a host carrying the same ICU
 * (72, Debian 12's) can clash; this one does. */
#include <stddef.h>

#include "decoy.h"

DECOY void* ucol_open_72(const char* locale, int* status) {
  decoy_called("ucol_open_72");
  return NULL;
}
