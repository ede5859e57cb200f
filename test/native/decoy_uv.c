/* Preloaded to stand for a host process that exports a libuv name (an Envoy built with
 * --define exported_symbols=enabled exports whatever it links). uv_version is the sentinel the first
 * isolation check looked at; kept so that case stays covered. */
#include "decoy.h"

DECOY unsigned int uv_version(void) {
  decoy_called("uv_version");
  return 0xdec0;
}
