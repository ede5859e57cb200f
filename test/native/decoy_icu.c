/* An ICU name. ICU suffixes its names with its major version, so only a host carrying the same ICU
 * (72, Debian 12's) can clash; this one does. */
#include <stddef.h>
__attribute__((visibility("default"))) void* ucol_open_72(const char* locale, int* status) { return NULL; }
