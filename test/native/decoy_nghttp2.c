/* An nghttp2 name, as Envoy's HTTP/2 codec links it. */
#include "decoy.h"

DECOY int nghttp2_session_client_new(void** session, const void* callbacks, void* user_data) {
  decoy_called("nghttp2_session_client_new");
  return -901; /* NGHTTP2_ERR_NOMEM */
}
