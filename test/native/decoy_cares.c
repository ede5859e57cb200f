/* A c-ares name, as Envoy's DNS resolver links it. */
#include "decoy.h"

DECOY int ares_init_options(void* channel, void* options, int mask) {
  decoy_called("ares_init_options");
  return 15; /* ARES_ENOMEM */
}
