/*
 * basic_auth: the reference HTTP Basic authentication filter, and the C performance floor for it.
 *
 * filter_config (a google.protobuf.Struct, which Envoy hands over as a JSON string):
 *   {"username": "...", "password": "...", "realm": "..."}     realm is optional (default "nodevoy")
 * A missing or invalid field makes on_http_filter_config_new log which field is wrong and return NULL.
 *
 * Request headers:
 *   no authorization header                      -> 401 "no Authorization"             (basic_auth_missing)
 *   not "Basic <base64>", bad base64, no colon   -> 401 "invalid Authorization format" (basic_auth_malformed)
 *   wrong username or password                   -> 401 "invalid username or password" (basic_auth_denied)
 *   otherwise                                    -> Continue
 * Every 401 carries `www-authenticate: Basic realm="<realm>"`.
 *
 * The request path allocates nothing: the credential is base64-decoded one byte at a time and each byte is
 * compared with the expected "username:password" as it is produced, so there is no buffer and no length
 * bound. The comparison never exits early on a mismatch, and its running time depends only on the length of
 * what the client sent, never on the configured credential.
 *
 * Written directly against Envoy's dynamic-module C ABI (host/abi/nodevoy_envoy_abi.h). Uses only callbacks
 * present in Envoy v1.38 and later.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodevoy_noop_hooks.h"

#define LIT(s) ((nv_module_buffer){(s), sizeof(s) - 1})

static const char kDefaultRealm[] = "nodevoy";

typedef struct {
  char* expected; /* "username:password" */
  size_t expected_length;
  char* www_authenticate; /* Basic realm="<realm>" */
  size_t www_authenticate_length;
} basic_auth_config;

/* Per-route config is not used; the hook hands back a sentinel. */
static const char basic_auth_route_sentinel = 'r';

/* ---- Logging -------------------------------------------------------------------------------- */

static void log_error(const char* fmt, const char* field) {
  char message[256];
  int n = snprintf(message, sizeof message, fmt, field);
  if (n < 0) return;
  size_t length = (size_t)n < sizeof message ? (size_t)n : sizeof message - 1;
  envoy_dynamic_module_callback_log(NV_LOG_ERROR, (nv_module_buffer){message, length});
}

/* ---- Configuration ------------------------------------------------------------------------- */

static bool has_control_chars(const char* s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

/* Returns the string value of `key`, or NULL (after logging) when it is absent or not a string. */
static const char* required_string(const cJSON* root, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root, key);
  if (item == NULL) {
    log_error("basic_auth: invalid filter_config: missing required field \"%s\"", key);
    return NULL;
  }
  if (!cJSON_IsString(item) || item->valuestring == NULL) {
    log_error("basic_auth: invalid filter_config: field \"%s\" must be a string", key);
    return NULL;
  }
  return item->valuestring;
}

static basic_auth_config* parse_config(const cJSON* root) {
  if (!cJSON_IsObject(root)) {
    log_error("basic_auth: invalid filter_config: %s", "expected a JSON object {\"username\", \"password\", \"realm\"}");
    return NULL;
  }
  const cJSON* field;
  cJSON_ArrayForEach(field, root) {
    if (strcmp(field->string, "username") != 0 && strcmp(field->string, "password") != 0 &&
        strcmp(field->string, "realm") != 0) {
      log_error("basic_auth: invalid filter_config: unknown field \"%s\"", field->string);
      return NULL;
    }
  }

  const char* username = required_string(root, "username");
  if (username == NULL) return NULL;
  if (username[0] == '\0' || strchr(username, ':') != NULL || has_control_chars(username)) {
    log_error("basic_auth: invalid filter_config: field \"%s\" must be non-empty, without ':' or control characters",
              "username");
    return NULL;
  }
  const char* password = required_string(root, "password");
  if (password == NULL) return NULL;
  if (has_control_chars(password)) {
    log_error("basic_auth: invalid filter_config: field \"%s\" must not contain control characters", "password");
    return NULL;
  }
  const char* realm = kDefaultRealm;
  const cJSON* realm_item = cJSON_GetObjectItemCaseSensitive(root, "realm");
  if (realm_item != NULL) {
    if (!cJSON_IsString(realm_item) || realm_item->valuestring == NULL) {
      log_error("basic_auth: invalid filter_config: field \"%s\" must be a string", "realm");
      return NULL;
    }
    realm = realm_item->valuestring;
    if (strchr(realm, '"') != NULL || strchr(realm, '\\') != NULL || has_control_chars(realm)) {
      log_error("basic_auth: invalid filter_config: field \"%s\" must not contain '\"', '\\\\' or control characters",
                "realm");
      return NULL;
    }
  }

  basic_auth_config* cfg = calloc(1, sizeof *cfg);
  if (cfg == NULL) return NULL;
  size_t user_length = strlen(username), password_length = strlen(password);
  cfg->expected_length = user_length + 1 + password_length;
  cfg->expected = malloc(cfg->expected_length + 1);
  int n = asprintf(&cfg->www_authenticate, "Basic realm=\"%s\"", realm);
  if (cfg->expected == NULL || n < 0) {
    if (n < 0) cfg->www_authenticate = NULL;
    free(cfg->expected);
    free(cfg->www_authenticate);
    free(cfg);
    return NULL;
  }
  memcpy(cfg->expected, username, user_length);
  cfg->expected[user_length] = ':';
  memcpy(cfg->expected + user_length + 1, password, password_length + 1);
  cfg->www_authenticate_length = (size_t)n;
  return cfg;
}

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) { return NV_ABI_VERSION_V1_40; }

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  if (config.ptr == NULL || config.length == 0) {
    log_error("basic_auth: invalid filter_config: %s", "empty; expected {\"username\", \"password\", \"realm\"}");
    return NULL;
  }
  cJSON* root = cJSON_ParseWithLength(config.ptr, config.length);
  if (root == NULL) {
    log_error("basic_auth: invalid filter_config: %s", "not valid JSON");
    return NULL;
  }
  basic_auth_config* cfg = parse_config(root);
  cJSON_Delete(root);
  return cfg;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) {
  basic_auth_config* cfg = (basic_auth_config*)config_module;
  if (cfg == NULL) return;
  free(cfg->expected);
  free(cfg->www_authenticate);
  free(cfg);
}

NV_NOOP_HOOKS_PER_ROUTE_CONFIG(&basic_auth_route_sentinel)

/* ---- Credential check (request path: no allocation, no early exit on secret data) ----------- */

typedef enum { AUTH_OK, AUTH_MALFORMED, AUTH_DENIED } auth_verdict;

/* Standard base64 alphabet; -1 for anything else. Branches only on the client's own bytes. */
static int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* All ones when a < b, else zero, computed without a branch. */
static inline size_t mask_less_than(size_t a, size_t b) { return (size_t)0 - (size_t)(a < b); }

/* Compares decoded byte number `position` with the expected credential. Every call does the same work,
 * whether the byte matches, and whether `position` is inside the expected credential or beyond it. */
static inline unsigned compare_byte(const basic_auth_config* cfg, size_t position, unsigned char byte) {
  size_t in_range = mask_less_than(position, cfg->expected_length);
  unsigned char expected = (unsigned char)cfg->expected[position & in_range] & (unsigned char)in_range;
  return (unsigned)(byte ^ expected) | (unsigned)(~in_range & 1u);
}

static auth_verdict check_credentials(const basic_auth_config* cfg, const char* value, size_t length) {
  /* "Basic" (case-insensitive, RFC 7617), one or more spaces, then the base64 token. */
  static const char scheme[] = "basic";
  if (length < sizeof scheme || value[sizeof scheme - 1] != ' ') return AUTH_MALFORMED;
  for (size_t i = 0; i < sizeof scheme - 1; i++) {
    if ((value[i] | 0x20) != scheme[i]) return AUTH_MALFORMED;
  }
  size_t begin = sizeof scheme, end = length;
  while (begin < end && value[begin] == ' ') begin++;
  while (end > begin && (value[end - 1] == ' ' || value[end - 1] == '\t')) end--;
  if (begin == end) return AUTH_MALFORMED;

  uint32_t bit_buffer = 0;
  unsigned bit_count = 0, padding = 0, difference = 0, saw_colon = 0;
  size_t decoded = 0;
  for (size_t i = begin; i < end; i++) {
    unsigned char c = (unsigned char)value[i];
    if (c == '=') {
      padding++;
      continue;
    }
    int sextet = base64_value(c);
    if (sextet < 0 || padding > 0) return AUTH_MALFORMED; /* bad character, or data after padding */
    bit_buffer = (bit_buffer << 6) | (uint32_t)sextet;
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      unsigned char byte = (unsigned char)(bit_buffer >> bit_count);
      difference |= compare_byte(cfg, decoded, byte);
      saw_colon |= (unsigned)(byte == ':');
      decoded++;
    }
  }
  size_t symbols = end - begin - padding;
  if (symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) return AUTH_MALFORMED;
  if (!saw_colon) return AUTH_MALFORMED;

  /* Fold a length mismatch into the result without branching on it. */
  size_t length_difference = decoded ^ cfg->expected_length;
  difference |= (unsigned)((length_difference | ((size_t)0 - length_difference)) >> (sizeof(size_t) * 8 - 1));
  return difference == 0 ? AUTH_OK : AUTH_DENIED;
}

static void deny(nv_filter_envoy_ptr fe, const basic_auth_config* cfg, nv_module_buffer body,
                 nv_module_buffer details) {
  nv_module_header header = {"www-authenticate", sizeof "www-authenticate" - 1, cfg->www_authenticate,
                             cfg->www_authenticate_length};
  envoy_dynamic_module_callback_http_send_response(fe, 401, &header, 1, body, details);
}

/* ---- Stream hooks ---------------------------------------------------------------------------- */

NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                                       nv_filter_envoy_ptr filter_envoy) {
  /* The config is all a stream needs, so it doubles as the per-stream handle: no allocation. */
  return config_module;
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr filter_envoy,
                                                                                nv_filter_module_ptr filter_module,
                                                                                bool end_of_stream) {
  const basic_auth_config* cfg = (const basic_auth_config*)filter_module;
  nv_envoy_buffer value = {NULL, 0};
  if (!envoy_dynamic_module_callback_http_get_header(filter_envoy, NV_HEADER_REQUEST, LIT("authorization"), &value, 0,
                                                     NULL) ||
      value.ptr == NULL) {
    deny(filter_envoy, cfg, LIT("no Authorization"), LIT("basic_auth_missing"));
    return NV_HEADERS_STOP_ITERATION;
  }
  switch (check_credentials(cfg, value.ptr, value.length)) {
    case AUTH_OK:
      return NV_HEADERS_CONTINUE;
    case AUTH_MALFORMED:
      deny(filter_envoy, cfg, LIT("invalid Authorization format"), LIT("basic_auth_malformed"));
      return NV_HEADERS_STOP_ITERATION;
    case AUTH_DENIED:
    default:
      deny(filter_envoy, cfg, LIT("invalid username or password"), LIT("basic_auth_denied"));
      return NV_HEADERS_STOP_ITERATION;
  }
}

NV_NOOP_HOOKS_STREAM_AFTER_REQUEST_HEADERS()

/* ---- Callouts, scheduler and watermarks: never started by this filter ----------------------- */

NV_NOOP_HOOKS_CALLOUTS_SCHEDULER_WATERMARKS()
