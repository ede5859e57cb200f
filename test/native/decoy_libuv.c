/* Another libuv name, not the old sentinel uv_version: every name must count. */
#include "decoy.h"

DECOY unsigned long long uv_hrtime(void) {
  decoy_called("uv_hrtime");
  return 0;
}
