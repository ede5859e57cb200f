/* Names BoringSSL and OpenSSL share, as an everything-exporting Envoy exports them from its
 * BoringSSL. Neither OPENSSL_init_ssl nor OpenSSL_version_num (the old sentinels). */
#include <stddef.h>

#include "decoy.h"

DECOY void* SSL_new(void* context) {
  decoy_called("SSL_new");
  return NULL;
}

DECOY int EVP_DigestInit_ex(void* context, const void* type, void* engine) {
  decoy_called("EVP_DigestInit_ex");
  return 0;
}
