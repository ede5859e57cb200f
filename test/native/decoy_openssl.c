/* Names BoringSSL and OpenSSL share, as an everything-exporting Envoy exports them from its
 * BoringSSL. Neither OPENSSL_init_ssl nor OpenSSL_version_num (the old sentinels). */
#include <stddef.h>
__attribute__((visibility("default"))) void* SSL_new(void* context) { return NULL; }
__attribute__((visibility("default"))) int EVP_DigestInit_ex(void* context, const void* type, void* engine) { return 0; }
