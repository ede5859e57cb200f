/* An ICU name. ICU suffixes its names with its major version, so only a host carrying the same ICU
 * can clash: this one carries the ICU of every runtime libnodevoy embeds (72: Debian 12's, Node 18;
 * 76: Debian 13's, Node 20; 78: Debian sid's, Node 22 and 24), so it clashes with whichever loads. */
#include <stddef.h>

#include "decoy.h"

DECOY void* ucol_open_72(const char* locale, int* status) {
  decoy_called("ucol_open_72");
  return NULL;
}

DECOY void* ucol_open_76(const char* locale, int* status) {
  decoy_called("ucol_open_76");
  return NULL;
}

DECOY void* ucol_open_78(const char* locale, int* status) {
  decoy_called("ucol_open_78");
  return NULL;
}
