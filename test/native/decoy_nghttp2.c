/* An nghttp2 name, as Envoy's HTTP/2 codec links it. */
__attribute__((visibility("default"))) int nghttp2_session_client_new(void** session, const void* callbacks,
                                                                      void* user_data) {
  return -901; /* NGHTTP2_ERR_NOMEM */
}
