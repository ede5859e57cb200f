/*
 * nodevoy's declarations of Envoy's dynamic-module ABI for HTTP filters.
 *
 * Written for this project from shared/reference/envoy-abi.md (Envoy v1.40, ABI "v0.2.0"; loads on
 * v1.38/v1.39, ABI "v0.1.0"). Symbol names, parameter lists and enum numbering are the ABI and must
 * match Envoy exactly; the C type names below are our own (only their layout matters).
 *
 * Naming: "eh" = event hook, implemented by the module and called by Envoy;
 *         "cb" = callback, implemented by Envoy (or our dev host) and called by the module.
 * Threads: M = main thread, W = the worker thread that owns the stream, A = any thread.
 *
 * This header is shared by the dev host (which implements the callbacks), the C reference and test
 * modules, and libnodevoy. It is plain C so C modules can include it.
 */
#ifndef NODEVOY_ENVOY_ABI_H
#define NODEVOY_ENVOY_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
/* Seen from C++, no ABI entry may throw: exceptions never cross extern "C". */
#define NV_NOEXCEPT noexcept
extern "C" {
#else
#define NV_NOEXCEPT
#endif

/* ABI version strings returned by envoy_dynamic_module_on_program_init. Since v1.37.1 a mismatch
 * only warns; symbol resolution decides compatibility. */
#define NV_ABI_VERSION_V1_40 "v0.2.0"
#define NV_ABI_VERSION_V1_38 "v0.1.0"

/* ---- Opaque handles ------------------------------------------------------------------------- */
typedef void* nv_filter_envoy_ptr;            /* fe: per stream per filter, owned by Envoy      */
typedef const void* nv_filter_module_ptr;     /* fm: per stream object, owned by the module     */
typedef void* nv_config_envoy_ptr;            /* ce: per filter config, owned by Envoy          */
typedef const void* nv_config_module_ptr;     /* cm: per filter config, owned by the module     */
typedef const void* nv_route_config_module_ptr; /* rm: per-route config, owned by the module    */
typedef void* nv_scheduler_ptr;               /* returned by *_scheduler_new, owned by module   */

/* ---- Buffers ---------------------------------------------------------------------------------
 * nv_envoy_buffer: memory owned by Envoy, valid until the current hook returns (or a setter on the
 * same map/body is called). nv_module_buffer: memory owned by the module; Envoy copies what it keeps.
 * Both are {ptr, length} passed by value. */
typedef struct {
  const char* ptr;
  size_t length;
} nv_envoy_buffer;

typedef struct {
  const char* ptr;
  size_t length;
} nv_module_buffer;

typedef struct {
  const char* key_ptr;
  size_t key_length;
  const char* value_ptr;
  size_t value_length;
} nv_envoy_header;

typedef struct {
  const char* key_ptr;
  size_t key_length;
  const char* value_ptr;
  size_t value_length;
} nv_module_header;

/* ---- Hook status enums (Envoy casts them to its own filter statuses) ---------------------- */
typedef enum {
  NV_HEADERS_CONTINUE = 0,
  NV_HEADERS_STOP_ITERATION = 1,
  NV_HEADERS_CONTINUE_AND_DONT_END_STREAM = 2,
  NV_HEADERS_STOP_ALL_ITERATION_AND_BUFFER = 3,
  NV_HEADERS_STOP_ALL_ITERATION_AND_WATERMARK = 4,
} nv_headers_status;

typedef enum {
  NV_BODY_CONTINUE = 0,
  NV_BODY_STOP_ITERATION_AND_BUFFER = 1,
  NV_BODY_STOP_ITERATION_AND_WATERMARK = 2,
  NV_BODY_STOP_ITERATION_NO_BUFFER = 3,
} nv_body_status;

typedef enum {
  NV_TRAILERS_CONTINUE = 0,
  NV_TRAILERS_STOP_ITERATION = 1,
} nv_trailers_status;

typedef enum {
  NV_LOCAL_REPLY_CONTINUE = 0,
  NV_LOCAL_REPLY_CONTINUE_AND_RESET_STREAM = 1,
} nv_local_reply_status;

/* ---- Common enums ------------------------------------------------------------------------- */
typedef enum {
  NV_HEADER_REQUEST = 0,
  NV_HEADER_REQUEST_TRAILER = 1,
  NV_HEADER_RESPONSE = 2,
  NV_HEADER_RESPONSE_TRAILER = 3,
} nv_header_type;

typedef enum {
  NV_BODY_RECEIVED_REQUEST = 0,
  NV_BODY_BUFFERED_REQUEST = 1,
  NV_BODY_RECEIVED_RESPONSE = 2,
  NV_BODY_BUFFERED_RESPONSE = 3,
} nv_body_type;

typedef enum {
  NV_LOG_TRACE = 0,
  NV_LOG_DEBUG = 1,
  NV_LOG_INFO = 2,
  NV_LOG_WARN = 3,
  NV_LOG_ERROR = 4,
  NV_LOG_CRITICAL = 5,
  NV_LOG_OFF = 6,
} nv_log_level;

typedef enum {
  NV_METRICS_SUCCESS = 0,
  NV_METRICS_NOT_FOUND = 1,
  NV_METRICS_INVALID_LABELS = 2,
  NV_METRICS_FROZEN = 3,
} nv_metrics_result;

typedef enum {
  NV_METADATA_DYNAMIC = 0,
  NV_METADATA_ROUTE = 1,
  NV_METADATA_CLUSTER = 2,
  NV_METADATA_HOST = 3,
  NV_METADATA_HOST_LOCALITY = 4,
} nv_metadata_source;

typedef enum {
  NV_CALLOUT_INIT_SUCCESS = 0,
  NV_CALLOUT_INIT_MISSING_REQUIRED_HEADERS = 1,
  NV_CALLOUT_INIT_CLUSTER_NOT_FOUND = 2,
  NV_CALLOUT_INIT_DUPLICATE_CALLOUT_ID = 3,
  NV_CALLOUT_INIT_CANNOT_CREATE_REQUEST = 4,
} nv_http_callout_init_result;

typedef enum {
  NV_CALLOUT_SUCCESS = 0,
  NV_CALLOUT_RESET = 1,
  NV_CALLOUT_EXCEED_RESPONSE_BUFFER_LIMIT = 2,
} nv_http_callout_result;

typedef enum {
  NV_STREAM_RESET_CONNECTION_FAILURE = 0,
  NV_STREAM_RESET_CONNECTION_TERMINATION = 1,
  NV_STREAM_RESET_LOCAL_RESET = 2,
  NV_STREAM_RESET_LOCAL_REFUSED_STREAM_RESET = 3,
  NV_STREAM_RESET_OVERFLOW = 4,
  NV_STREAM_RESET_REMOTE_RESET = 5,
  NV_STREAM_RESET_REMOTE_REFUSED_STREAM_RESET = 6,
  NV_STREAM_RESET_PROTOCOL_ERROR = 7,
} nv_http_stream_reset_reason;

typedef enum {
  NV_FILTER_RESET_LOCAL_RESET = 0,
  NV_FILTER_RESET_LOCAL_REFUSED_STREAM_RESET = 1,
} nv_http_filter_stream_reset_reason;

typedef enum {
  NV_ATTR_REQUEST_PATH = 0,
  NV_ATTR_REQUEST_URL_PATH = 1,
  NV_ATTR_REQUEST_HOST = 2,
  NV_ATTR_REQUEST_SCHEME = 3,
  NV_ATTR_REQUEST_METHOD = 4,
  NV_ATTR_REQUEST_HEADERS = 5,
  NV_ATTR_REQUEST_REFERER = 6,
  NV_ATTR_REQUEST_USER_AGENT = 7,
  NV_ATTR_REQUEST_TIME = 8,
  NV_ATTR_REQUEST_ID = 9,
  NV_ATTR_REQUEST_PROTOCOL = 10,
  NV_ATTR_REQUEST_QUERY = 11,
  NV_ATTR_REQUEST_DURATION = 12,
  NV_ATTR_REQUEST_SIZE = 13,
  NV_ATTR_REQUEST_TOTAL_SIZE = 14,
  NV_ATTR_RESPONSE_CODE = 15,
  NV_ATTR_RESPONSE_CODE_DETAILS = 16,
  NV_ATTR_RESPONSE_FLAGS = 17,
  NV_ATTR_RESPONSE_GRPC_STATUS = 18,
  NV_ATTR_RESPONSE_HEADERS = 19,
  NV_ATTR_RESPONSE_TRAILERS = 20,
  NV_ATTR_RESPONSE_SIZE = 21,
  NV_ATTR_RESPONSE_TOTAL_SIZE = 22,
  NV_ATTR_RESPONSE_BACKEND_LATENCY = 23,
  NV_ATTR_SOURCE_ADDRESS = 24,
  NV_ATTR_SOURCE_PORT = 25,
  NV_ATTR_DESTINATION_ADDRESS = 26,
  NV_ATTR_DESTINATION_PORT = 27,
  NV_ATTR_CONNECTION_ID = 28,
  NV_ATTR_CONNECTION_MTLS = 29,
  /* 30..66: connection TLS, upstream and xDS attributes (see envoy-abi.md §3); 67: health_check;
   * 68..69 exist only in v0.2.0 (v1.40). None of these are used by nodevoy. */
  NV_ATTR_UPSTREAM_ADDRESS = 41,
  NV_ATTR_UPSTREAM_PORT = 42,
  NV_ATTR_XDS_CLUSTER_NAME = 57,
  NV_ATTR_XDS_ROUTE_NAME = 61,
  NV_ATTR_XDS_VIRTUAL_HOST_NAME = 63,
} nv_attribute_id;

/* ---- Event hooks: exported by the module --------------------------------------------------- */
/* M, once per loaded object. NULL fails the load; the string is Envoy's ABI version marker. */
const char* envoy_dynamic_module_on_program_init(void) NV_NOEXCEPT;

/* M. NULL rejects the config. Metrics may be defined only inside this call. */
nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                    nv_envoy_buffer name,
                                                                    nv_envoy_buffer config) NV_NOEXCEPT;
/* M. */
void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) NV_NOEXCEPT;
/* M. Needed only when per-route config is used. NULL rejects the route config. */
nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(nv_envoy_buffer name,
                                                                                    nv_envoy_buffer config) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_per_route_config_destroy(nv_route_config_module_ptr route_config) NV_NOEXCEPT;

/* W: the stream's worker for all of the per-stream hooks below. */
nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                             nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr filter_envoy,
                                                                      nv_filter_module_ptr filter_module,
                                                                      bool end_of_stream) NV_NOEXCEPT;
nv_body_status envoy_dynamic_module_on_http_filter_request_body(nv_filter_envoy_ptr filter_envoy,
                                                                nv_filter_module_ptr filter_module,
                                                                bool end_of_stream) NV_NOEXCEPT;
nv_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                        nv_filter_module_ptr filter_module) NV_NOEXCEPT;
nv_headers_status envoy_dynamic_module_on_http_filter_response_headers(nv_filter_envoy_ptr filter_envoy,
                                                                       nv_filter_module_ptr filter_module,
                                                                       bool end_of_stream) NV_NOEXCEPT;
nv_body_status envoy_dynamic_module_on_http_filter_response_body(nv_filter_envoy_ptr filter_envoy,
                                                                 nv_filter_module_ptr filter_module,
                                                                 bool end_of_stream) NV_NOEXCEPT;
nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                         nv_filter_module_ptr filter_module) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                         nv_filter_module_ptr filter_module) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr filter_module) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_http_callout_done(nv_filter_envoy_ptr filter_envoy,
                                                           nv_filter_module_ptr filter_module,
                                                           uint64_t callout_id, nv_http_callout_result result,
                                                           nv_envoy_header* headers, size_t headers_size,
                                                           nv_envoy_buffer* body_chunks,
                                                           size_t body_chunks_size) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_http_stream_headers(nv_filter_envoy_ptr filter_envoy,
                                                             nv_filter_module_ptr filter_module,
                                                             uint64_t stream_id, nv_envoy_header* headers,
                                                             size_t headers_size, bool end_stream) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_http_stream_data(nv_filter_envoy_ptr filter_envoy,
                                                          nv_filter_module_ptr filter_module, uint64_t stream_id,
                                                          const nv_envoy_buffer* data, size_t data_count,
                                                          bool end_stream) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_http_stream_trailers(nv_filter_envoy_ptr filter_envoy,
                                                              nv_filter_module_ptr filter_module,
                                                              uint64_t stream_id, nv_envoy_header* trailers,
                                                              size_t trailers_size) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_http_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                              nv_filter_module_ptr filter_module,
                                                              uint64_t stream_id) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_http_stream_reset(nv_filter_envoy_ptr filter_envoy,
                                                           nv_filter_module_ptr filter_module, uint64_t stream_id,
                                                           nv_http_stream_reset_reason reason) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_scheduled(nv_filter_envoy_ptr filter_envoy,
                                                   nv_filter_module_ptr filter_module, uint64_t event_id) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) NV_NOEXCEPT;
void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) NV_NOEXCEPT;

/* Optional hooks (resolved if present). */
nv_local_reply_status envoy_dynamic_module_on_http_filter_local_reply(nv_filter_envoy_ptr filter_envoy,
                                                                      nv_filter_module_ptr filter_module,
                                                                      uint32_t response_code,
                                                                      nv_envoy_buffer details,
                                                                      bool reset_imminent) NV_NOEXCEPT;
/* M. */
void envoy_dynamic_module_on_http_filter_config_scheduled(nv_config_envoy_ptr config_envoy,
                                                          nv_config_module_ptr config_module, uint64_t event_id) NV_NOEXCEPT;

/* ---- Callbacks: exported by Envoy (W unless noted; only between filter_new and destroy) ---- */
/* Headers and trailers. Keys are lower-case; a NULL value pointer in set_header removes the key. */
bool envoy_dynamic_module_callback_http_get_header(nv_filter_envoy_ptr filter_envoy, nv_header_type header_type,
                                                   nv_module_buffer key, nv_envoy_buffer* result, size_t index,
                                                   size_t* optional_size) NV_NOEXCEPT;
/* get_header_values: since v1.39 (absent in v1.38). */
bool envoy_dynamic_module_callback_http_get_header_values(nv_filter_envoy_ptr filter_envoy,
                                                          nv_header_type header_type, nv_module_buffer key,
                                                          nv_envoy_buffer* results) NV_NOEXCEPT;
size_t envoy_dynamic_module_callback_http_get_headers_size(nv_filter_envoy_ptr filter_envoy,
                                                           nv_header_type header_type) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_get_headers(nv_filter_envoy_ptr filter_envoy, nv_header_type header_type,
                                                    nv_envoy_header* result_headers) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_set_header(nv_filter_envoy_ptr filter_envoy, nv_header_type header_type,
                                                   nv_module_buffer key, nv_module_buffer value) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_add_header(nv_filter_envoy_ptr filter_envoy, nv_header_type header_type,
                                                   nv_module_buffer key, nv_module_buffer value) NV_NOEXCEPT;

/* Body. "Received" exists only inside the body hook of that direction; "buffered" is what the chain
 * holds so far. */
size_t envoy_dynamic_module_callback_http_get_body_size(nv_filter_envoy_ptr filter_envoy, nv_body_type body_type) NV_NOEXCEPT;
size_t envoy_dynamic_module_callback_http_get_body_chunks_size(nv_filter_envoy_ptr filter_envoy,
                                                               nv_body_type body_type) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_get_body_chunks(nv_filter_envoy_ptr filter_envoy, nv_body_type body_type,
                                                        nv_envoy_buffer* result_chunks) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_append_body(nv_filter_envoy_ptr filter_envoy, nv_body_type body_type,
                                                    nv_module_buffer data) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_drain_body(nv_filter_envoy_ptr filter_envoy, nv_body_type body_type,
                                                   size_t number_of_bytes) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_received_buffered_request_body(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_received_buffered_response_body(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
uint64_t envoy_dynamic_module_callback_http_get_buffer_limit(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_set_buffer_limit(nv_filter_envoy_ptr filter_envoy, uint64_t limit) NV_NOEXCEPT;

/* Local reply (the module's own encode hooks are not called for it) and streamed responses. */
void envoy_dynamic_module_callback_http_send_response(nv_filter_envoy_ptr filter_envoy, uint32_t status_code,
                                                      nv_module_header* headers, size_t headers_size,
                                                      nv_module_buffer body, nv_module_buffer details) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_send_response_headers(nv_filter_envoy_ptr filter_envoy,
                                                              nv_module_header* headers, size_t headers_size,
                                                              bool end_stream) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_send_response_data(nv_filter_envoy_ptr filter_envoy, nv_module_buffer data,
                                                           bool end_stream) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_send_response_trailers(nv_filter_envoy_ptr filter_envoy,
                                                               nv_module_header* trailers, size_t trailers_size) NV_NOEXCEPT;

/* Resuming after a Stop status. A second continue in the same direction is ignored. */
void envoy_dynamic_module_callback_http_filter_continue_decoding(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_continue_encoding(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;

/* Scheduler. new: W. commit: A (no-op after the filter is destroyed). delete: always, by the module. */
nv_scheduler_ptr envoy_dynamic_module_callback_http_filter_scheduler_new(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_scheduler_commit(nv_scheduler_ptr scheduler, uint64_t event_id) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_scheduler_delete(nv_scheduler_ptr scheduler) NV_NOEXCEPT;
/* Config scheduler: on_http_filter_config_scheduled runs on the main thread. */
nv_scheduler_ptr envoy_dynamic_module_callback_http_filter_config_scheduler_new(nv_config_envoy_ptr config_envoy) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_config_scheduler_commit(nv_scheduler_ptr scheduler,
                                                                       uint64_t event_id) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_config_scheduler_delete(nv_scheduler_ptr scheduler) NV_NOEXCEPT;

/* Logging (logger "dynamic_modules"). A. log_v2 is new in v1.40 (absent in v1.38/v1.39);
 * get_log_level exists since v1.39 (absent in v1.38). */
void envoy_dynamic_module_callback_log(nv_log_level level, nv_module_buffer message) NV_NOEXCEPT;
void envoy_dynamic_module_callback_log_v2(nv_log_level level, nv_module_buffer message,
                                          nv_module_buffer source_file, uint32_t line) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_log_enabled(nv_log_level level) NV_NOEXCEPT;
nv_log_level envoy_dynamic_module_callback_get_log_level(void) NV_NOEXCEPT;

/* Metrics. define_*: only inside on_http_filter_config_new (else Frozen). */
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_counter(
    nv_config_envoy_ptr config_envoy, nv_module_buffer name, nv_module_buffer* label_names,
    size_t label_names_length, size_t* metric_id_out) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_gauge(
    nv_config_envoy_ptr config_envoy, nv_module_buffer name, nv_module_buffer* label_names,
    size_t label_names_length, size_t* metric_id_out) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_histogram(
    nv_config_envoy_ptr config_envoy, nv_module_buffer name, nv_module_buffer* label_names,
    size_t label_names_length, size_t* metric_id_out) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_increment_counter(nv_filter_envoy_ptr filter_envoy,
                                                                              size_t id,
                                                                              nv_module_buffer* label_values,
                                                                              size_t label_values_length,
                                                                              uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_increment_gauge(nv_filter_envoy_ptr filter_envoy,
                                                                            size_t id,
                                                                            nv_module_buffer* label_values,
                                                                            size_t label_values_length,
                                                                            uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_decrement_gauge(nv_filter_envoy_ptr filter_envoy,
                                                                            size_t id,
                                                                            nv_module_buffer* label_values,
                                                                            size_t label_values_length,
                                                                            uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_set_gauge(nv_filter_envoy_ptr filter_envoy, size_t id,
                                                                      nv_module_buffer* label_values,
                                                                      size_t label_values_length, uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_record_histogram_value(
    nv_filter_envoy_ptr filter_envoy, size_t id, nv_module_buffer* label_values, size_t label_values_length,
    uint64_t value) NV_NOEXCEPT;
/* Config-level updates, usable outside any request (A). Since v1.39 (absent in v1.38). */
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_increment_counter(
    nv_config_envoy_ptr config_envoy, size_t id, nv_module_buffer* label_values, size_t label_values_length,
    uint64_t value) NV_NOEXCEPT;

/* Config-level gauge and histogram updates (A), the same shape as the counter's. Newer than
 * config_increment_counter (envoy-abi.md §3; absent in v1.38): resolve them optionally. */
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_increment_gauge(
    nv_config_envoy_ptr config_envoy, size_t id, nv_module_buffer* label_values, size_t label_values_length,
    uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_decrement_gauge(
    nv_config_envoy_ptr config_envoy, size_t id, nv_module_buffer* label_values, size_t label_values_length,
    uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_set_gauge(
    nv_config_envoy_ptr config_envoy, size_t id, nv_module_buffer* label_values, size_t label_values_length,
    uint64_t value) NV_NOEXCEPT;
nv_metrics_result envoy_dynamic_module_callback_http_filter_config_record_histogram_value(
    nv_config_envoy_ptr config_envoy, size_t id, nv_module_buffer* label_values, size_t label_values_length,
    uint64_t value) NV_NOEXCEPT;

/* HTTP callouts through a cluster (W, inside a hook). The headers must have :method, :path and
 * host/:authority. Envoy assigns the id. One-shot: the whole response arrives in
 * on_http_filter_http_callout_done. Streamed: on_http_filter_http_stream_* events; the module sends
 * more body and trailers, or resets it (which calls on_http_filter_http_stream_reset at once).
 * A timeout of 0 means none. Callouts of a destroyed filter are cancelled without events. */
nv_http_callout_init_result envoy_dynamic_module_callback_http_filter_http_callout(
    nv_filter_envoy_ptr filter_envoy, uint64_t* callout_id_out, nv_module_buffer cluster_name, nv_module_header* headers,
    size_t headers_size, nv_module_buffer body, uint64_t timeout_milliseconds) NV_NOEXCEPT;
nv_http_callout_init_result envoy_dynamic_module_callback_http_filter_start_http_stream(
    nv_filter_envoy_ptr filter_envoy, uint64_t* stream_id_out, nv_module_buffer cluster_name, nv_module_header* headers,
    size_t headers_size, nv_module_buffer body, bool end_stream, uint64_t timeout_milliseconds) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_stream_send_data(nv_filter_envoy_ptr filter_envoy, uint64_t stream_id,
                                                         nv_module_buffer data, bool end_stream) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_stream_send_trailers(nv_filter_envoy_ptr filter_envoy, uint64_t stream_id,
                                                             nv_module_header* trailers, size_t trailers_size) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_reset_http_stream(nv_filter_envoy_ptr filter_envoy,
                                                                 uint64_t stream_id) NV_NOEXCEPT;
/* Dynamic metadata. */
void envoy_dynamic_module_callback_http_set_dynamic_metadata_number(nv_filter_envoy_ptr filter_envoy,
                                                                    nv_module_buffer filter_namespace,
                                                                    nv_module_buffer key, double value) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_set_dynamic_metadata_string(nv_filter_envoy_ptr filter_envoy,
                                                                    nv_module_buffer filter_namespace,
                                                                    nv_module_buffer key, nv_module_buffer value) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(nv_filter_envoy_ptr filter_envoy,
                                                                  nv_module_buffer filter_namespace,
                                                                  nv_module_buffer key, bool value) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_get_metadata_number(nv_filter_envoy_ptr filter_envoy,
                                                            nv_metadata_source source,
                                                            nv_module_buffer filter_namespace, nv_module_buffer key,
                                                            double* result) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_get_metadata_string(nv_filter_envoy_ptr filter_envoy,
                                                            nv_metadata_source source,
                                                            nv_module_buffer filter_namespace, nv_module_buffer key,
                                                            nv_envoy_buffer* result) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_get_metadata_bool(nv_filter_envoy_ptr filter_envoy,
                                                          nv_metadata_source source,
                                                          nv_module_buffer filter_namespace, nv_module_buffer key,
                                                          bool* result) NV_NOEXCEPT;

/* Filter state (bytes, stored as a string accessor). */
bool envoy_dynamic_module_callback_http_set_filter_state_bytes(nv_filter_envoy_ptr filter_envoy,
                                                               nv_module_buffer key, nv_module_buffer value) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_get_filter_state_bytes(nv_filter_envoy_ptr filter_envoy,
                                                               nv_module_buffer key, nv_envoy_buffer* result) NV_NOEXCEPT;

/* Attributes. */
bool envoy_dynamic_module_callback_http_filter_get_attribute_string(nv_filter_envoy_ptr filter_envoy,
                                                                    nv_attribute_id attribute_id,
                                                                    nv_envoy_buffer* result) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_filter_get_attribute_int(nv_filter_envoy_ptr filter_envoy,
                                                                 nv_attribute_id attribute_id, uint64_t* result) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_http_filter_get_attribute_bool(nv_filter_envoy_ptr filter_envoy,
                                                                  nv_attribute_id attribute_id, bool* result) NV_NOEXCEPT;

/* Stream control and miscellaneous. */
void envoy_dynamic_module_callback_http_clear_route_cache(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
void envoy_dynamic_module_callback_http_filter_reset_stream(nv_filter_envoy_ptr filter_envoy,
                                                            nv_http_filter_stream_reset_reason reason,
                                                            nv_module_buffer details) NV_NOEXCEPT;
uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
nv_route_config_module_ptr envoy_dynamic_module_callback_get_most_specific_route_config(
    nv_filter_envoy_ptr filter_envoy) NV_NOEXCEPT;
/* M only. */
uint32_t envoy_dynamic_module_callback_get_concurrency(void) NV_NOEXCEPT;
bool envoy_dynamic_module_callback_is_validation_mode(void) NV_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* NODEVOY_ENVOY_ABI_H */
