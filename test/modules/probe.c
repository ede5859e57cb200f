/*
 * probe: the conformance probe. A test-only HTTP filter that makes the semantics of Envoy's dynamic-module
 * ABI observable over plain HTTP, so one test suite (tap + undici) can check the dev host and a real Envoy
 * alike. It is driven by request headers (`x-probe: <action>[,<action>...]` plus argument headers
 * `x-probe-<arg>`) and by its filter_config JSON, and reports what it saw in response headers it adds
 * (`x-probe-[<label>-]<name>`), in its own local replies, in logs, in metrics, and in process-wide counters
 * that the `globals` action returns as JSON. The full protocol is in test/modules/README.md.
 *
 * Layout of this file:
 *   1. small utilities (allocation, strings, escaping, time)
 *   2. process-wide counters (C11 atomics) and logging
 *   3. filter config, per-route config and the per-stream object
 *   4. helpers shared by the actions (reports, arguments, bodies, the scheduler and its threads)
 *   5. the actions, one small function each, and the table from action name to function
 *   6. flow control (hold / pause / end of stream) and the exported hooks
 *
 * Written directly against Envoy's dynamic-module C ABI (host/abi/nodevoy_envoy_abi.h). The callbacks that
 * only Envoy v1.39/v1.40 export (get_header_values, get_log_level, config_increment_counter; log_v2) are
 * weak references: on an older Envoy they resolve to NULL, the probe reports them unavailable, and
 * on_program_init answers that release's ABI version string. So it loads on v1.38 to v1.40.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "nodevoy_envoy_abi.h"

/* Callbacks newer than Envoy v1.38: weak, so an older host leaves them NULL instead of refusing the load. */
#pragma weak envoy_dynamic_module_callback_http_get_header_values
#pragma weak envoy_dynamic_module_callback_get_log_level
#pragma weak envoy_dynamic_module_callback_http_filter_config_increment_counter
#pragma weak envoy_dynamic_module_callback_log_v2
#define HAVE_CALLBACK(name) (&envoy_dynamic_module_callback_##name != NULL)

#define NV_EXPORT __attribute__((visibility("default")))
#define LIT(s) ((nv_module_buffer){(s), sizeof(s) - 1})
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

enum {
  MAX_ACTIONS = 64,          /* actions per stream */
  MAX_HOOK_TRACE = 4000,     /* bytes of the per-stream hook trace */
  LATE_WAIT_LIMIT_MS = 10000 /* how long a late-commit thread waits for its stream to be destroyed */
};

/* ============================================================================================== */
/* 1. Utilities                                                                                   */
/* ============================================================================================== */

static void* xmalloc(size_t n) {
  void* p = malloc(n ? n : 1);
  if (p == NULL) abort();
  return p;
}

static void* xcalloc(size_t n, size_t size) {
  void* p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL) abort();
  return p;
}

static char* xstrndup(const char* s, size_t n) {
  char* p = xmalloc(n + 1);
  if (n) memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static char* xstrdup(const char* s) { return xstrndup(s, strlen(s)); }

/* A growable, always NUL-terminated string. */
typedef struct {
  char* p;
  size_t len, cap;
} sbuf;

static void sb_put(sbuf* b, const char* s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char* p = realloc(b->p, cap);
    if (p == NULL) abort();
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_puts(sbuf* b, const char* s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf* b, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf* b, const char* fmt, ...) {
  char* s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  sb_put(b, s, (size_t)n);
  free(s);
}

/* Appends `sep` first unless the buffer is empty (for comma-separated lists). */
static void sb_sep(sbuf* b, const char* sep) {
  if (b->len) sb_puts(b, sep);
}

static const char* sb_str(const sbuf* b) { return b->p ? b->p : ""; }

static void sb_free(sbuf* b) {
  free(b->p);
  *b = (sbuf){0};
}

static const char kHex[] = "0123456789ABCDEF";

/* "Light" escaping for single report values: bytes outside 0x21..0x7E and '%' become %XX. Printable ASCII
 * without spaces passes through unchanged. */
static void sb_esc(sbuf* b, const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      char e[3] = {'%', kHex[c >> 4], kHex[c & 15]};
      sb_put(b, e, 3);
    } else {
      sb_put(b, (const char*)&c, 1);
    }
  }
}

/* "Strict" escaping for list items and dumps: everything except [A-Za-z0-9-._~:/] becomes %XX, so the
 * separators ',', '&' and '=' never appear inside an item. Decodable with decodeURIComponent /
 * URLSearchParams. */
static void sb_pct(sbuf* b, const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/') {
      sb_put(b, (const char*)&c, 1);
    } else {
      char e[3] = {'%', kHex[c >> 4], kHex[c & 15]};
      sb_put(b, e, 3);
    }
  }
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes %XX escapes (anything else is taken literally) into a new NUL-terminated string. */
static char* pct_decode(const char* s, size_t n, size_t* out_len) {
  char* out = xmalloc(n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '%' && i + 2 < n && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  if (out_len) *out_len = o;
  return out;
}

static bool parse_u64(const char* s, uint64_t* out) {
  if (s == NULL || *s == '\0') return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* Shortest "%g" form that reads back as the same double. */
static void format_double(char* out, size_t n, double v) {
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(out, n, "%.*g", precision, v);
    if (strtod(out, NULL) == v) return;
  }
}

static uint32_t fnv1a_update(uint32_t h, const char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 16777619u;
  }
  return h;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static const char* bool_str(bool b) { return b ? "true" : "false"; }

static nv_module_buffer mb(const char* s, size_t n) { return (nv_module_buffer){s, n}; }
static nv_module_buffer mbs(const char* s) { return (nv_module_buffer){s, strlen(s)}; }

/* A list of owned key/value strings (arguments, reports, headers to send). */
typedef struct {
  char* key;
  size_t key_len;
  char* value;
  size_t value_len;
} kv;

typedef struct {
  kv* items;
  size_t n, cap;
} kv_list;

static void kv_add(kv_list* l, const char* k, size_t kn, const char* v, size_t vn) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 8;
    kv* items = realloc(l->items, l->cap * sizeof *items);
    if (items == NULL) abort();
    l->items = items;
  }
  l->items[l->n++] = (kv){xstrndup(k, kn), kn, xstrndup(v, vn), vn};
}

static kv* kv_find(const kv_list* l, const char* k) {
  for (size_t i = 0; i < l->n; i++) {
    if (strcmp(l->items[i].key, k) == 0) return &l->items[i];
  }
  return NULL;
}

/* Adds or replaces. */
static void kv_set(kv_list* l, const char* k, const char* v, size_t vn) {
  kv* e = kv_find(l, k);
  if (e == NULL) {
    kv_add(l, k, strlen(k), v, vn);
    return;
  }
  free(e->value);
  e->value = xstrndup(v, vn);
  e->value_len = vn;
}

static void kv_free(kv_list* l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->items[i].key);
    free(l->items[i].value);
  }
  free(l->items);
  *l = (kv_list){0};
}

/* Parses "name=value;name=value" (each side %-decoded; empty items skipped) into `out`. */
static void parse_pairs(const char* text, kv_list* out) {
  const char* p = text;
  while (p && *p) {
    const char* end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    const char* eq = memchr(p, '=', n);
    if (n && eq) {
      size_t kn, vn;
      char* k = pct_decode(p, (size_t)(eq - p), &kn);
      char* v = pct_decode(eq + 1, n - (size_t)(eq - p) - 1, &vn);
      kv_add(out, k, kn, v, vn);
      free(k);
      free(v);
    }
    p = end ? end + 1 : NULL;
  }
}

/* ============================================================================================== */
/* 2. Process-wide counters and logging                                                           */
/* ============================================================================================== */

/* Every counter is cumulative for the life of the loaded object and returned by the `globals` action. */
#define PROBE_COUNTERS(X)                                                                                  \
  X(program_init_calls)         /* on_program_init calls: 1 per loaded object */                          \
  X(configs_created)            /* successful on_http_filter_config_new */                                \
  X(configs_rejected)           /* on_http_filter_config_new returned NULL */                             \
  X(configs_destroyed)          /* on_http_filter_config_destroy */                                       \
  X(config_destroy_off_main)    /* config_destroy on a thread other than the one that ran config_new */  \
  X(route_configs_created)      /* on_http_filter_per_route_config_new */                                 \
  X(route_configs_destroyed)    /* on_http_filter_per_route_config_destroy */                             \
  X(streams_created)            /* on_http_filter_new */                                                  \
  X(streams_destroyed)          /* on_http_filter_destroy */                                              \
  X(stream_complete_calls)      /* on_http_filter_stream_complete */                                      \
  X(complete_before_destroy)    /* destroyed streams that saw stream_complete first */                    \
  X(destroy_without_complete)   /* destroyed streams that never saw stream_complete */                    \
  X(hooks_after_complete)       /* stream hooks (not destroy/local_reply) after stream_complete */        \
  X(hooks_after_reset)          /* stream hooks (not stream_complete/destroy) after our reset_stream */  \
  X(wrong_thread_calls)         /* per-stream hooks not on the thread that ran on_http_filter_new */     \
  X(destroy_inside_hook)        /* on_http_filter_destroy while a hook of the same stream was running */ \
  X(destroyed_after_callback)   /* send_response/reset_stream returned with the stream destroyed */      \
  X(reply_encoded_inside_call)  /* send_response returned with the response headers already created */       \
  X(reply_completed_inside_call) /* send_response returned after this filter's stream_complete ran */        \
  X(local_reply_hook_inside_call) /* send_response returned after our on_local_reply saw its reply */        \
  X(own_reply_response_hooks)   /* our response hooks called for our own local/streamed reply */         \
  X(local_reply_calls)          /* on_http_filter_local_reply */                                          \
  X(send_response_calls)        /* send_response made by the probe */                                    \
  X(streamed_responses)         /* send_response_headers made by the probe (terminal mode) */            \
  X(reset_calls)                /* reset_stream made by the probe */                                      \
  X(continue_decoding_calls)    /* continue_decoding made by the probe */                                 \
  X(continue_encoding_calls)    /* continue_encoding made by the probe */                                 \
  X(scheduled_calls)            /* on_http_filter_scheduled, all kinds */                                 \
  X(scheduled_for_dead_stream)  /* on_http_filter_scheduled for a stream already destroyed */            \
  X(late_commits_sent)          /* commits made by late-commit threads after their stream was destroyed */ \
  X(late_events_delivered)      /* on_http_filter_scheduled with a late-commit event (must stay 0) */     \
  X(schedulers_created)         /* http_filter_scheduler_new */                                           \
  X(schedulers_deleted)         /* http_filter_scheduler_delete */                                        \
  X(config_schedulers_created)  /* http_filter_config_scheduler_new */                                    \
  X(config_schedulers_deleted)  /* http_filter_config_scheduler_delete */                                 \
  X(config_scheduled_calls)     /* on_http_filter_config_scheduled */                                     \
  X(config_scheduled_off_main)  /* ... on a thread other than the one that ran config_new */             \
  X(threads_started)            /* helper threads started by the probe */                                 \
  X(threads_finished)           /* helper threads that finished */                                        \
  X(watermark_above_calls)      /* on_http_filter_downstream_above_write_buffer_high_watermark */         \
  X(watermark_below_calls)      /* on_http_filter_downstream_below_write_buffer_low_watermark */          \
  X(global_symbol_visible)      /* `global-visible` found the probe's own hook through RTLD_DEFAULT */       \
  X(unexpected_hook_calls)      /* callout / http-stream hooks (the probe never starts callouts) */

static struct {
#define DECLARE_COUNTER(name) atomic_ullong name;
  PROBE_COUNTERS(DECLARE_COUNTER)
#undef DECLARE_COUNTER
} g;

#define BUMP(name) atomic_fetch_add(&g.name, 1)

static atomic_llong g_threads_inflight;
static atomic_int g_last_complete_before_destroy = -1; /* -1: no stream destroyed yet */
static atomic_uint g_next_stream_serial;
static atomic_ullong g_next_config_id;
static pthread_t g_init_thread;
static atomic_bool g_init_thread_set;

/* The last local reply seen by on_http_filter_local_reply. */
static pthread_mutex_t g_last_reply_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
  bool seen;
  uint32_t code;
  bool details_null;
  char details[256];
  bool reset_imminent;
} g_last_reply;

static void plog(nv_log_level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(nv_log_level level, const char* fmt, ...) {
  char* s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  envoy_dynamic_module_callback_log(level, mb(s, (size_t)n));
  free(s);
}

/* ============================================================================================== */
/* 3. Configs and the per-stream object                                                           */
/* ============================================================================================== */

typedef enum { M_REQUESTS, M_BY_METHOD, M_INFLIGHT, M_VALUES, M_GAUGE, M_CUSTOM, M_CONFIG_EVENTS, M_COUNT } metric_idx;
typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

static const struct {
  const char* suffix; /* full name: <metric_prefix>_<suffix> */
  metric_kind kind;
  const char* label; /* NULL: no labels */
} kMetrics[M_COUNT] = {
    [M_REQUESTS] = {"requests", KIND_COUNTER, NULL},
    [M_BY_METHOD] = {"requests_by_method", KIND_COUNTER, "method"},
    [M_INFLIGHT] = {"inflight", KIND_GAUGE, NULL},
    [M_VALUES] = {"values", KIND_HISTOGRAM, NULL},
    [M_GAUGE] = {"gauge", KIND_GAUGE, NULL},
    [M_CUSTOM] = {"custom", KIND_COUNTER, NULL},
    [M_CONFIG_EVENTS] = {"config_events", KIND_COUNTER, NULL},
};

typedef struct probe_config {
  uint64_t id;
  nv_config_envoy_ptr ce;
  char* name; /* filter_name */
  size_t name_len;
  char* raw; /* filter_config bytes */
  size_t raw_len;
  char* label;          /* "" when none */
  char* report_prefix;  /* "x-probe-" or "x-probe-<label>-" */
  char* actions;        /* actions run on every request before those of the x-probe header */
  char* metric_prefix;  /* default "probe" */
  bool terminal;        /* answer every request itself with a streamed response */
  uint32_t concurrency; /* get_concurrency() in config_new */
  bool validation_mode;
  pthread_t main_thread; /* the thread that ran config_new */
  bool on_init_thread;   /* config_new ran on the thread that ran program_init */
  size_t metric_id[M_COUNT];
  int metric_define_result[M_COUNT];
  /* Config-level scheduler. */
  bool use_config_scheduler;
  uint64_t config_scheduler_delay_ms;
  nv_scheduler_ptr config_scheduler;
  pthread_t config_thread;
  bool config_thread_started;
  atomic_uint config_scheduled_calls;
  atomic_uint config_scheduled_on_main;
  atomic_uint config_scheduled_off_main;
  atomic_ullong config_scheduled_event;
  atomic_int config_counter_result; /* -1 until on_config_scheduled ran */
} probe_config;

typedef struct {
  char* name;
  size_t name_len;
  char* raw;
  size_t raw_len;
} probe_route_config;

/* Points in a stream where actions run. The *_END stages are not hooks: they run once, when the whole body
 * of that direction has been seen (in the hook that saw the end, or in on_scheduled after a pause). */
typedef enum {
  ST_REQUEST_HEADERS,
  ST_REQUEST_BODY,
  ST_REQUEST_TRAILERS,
  ST_REQUEST_END,
  ST_RESPONSE_HEADERS,
  ST_RESPONSE_BODY,
  ST_RESPONSE_TRAILERS,
  ST_RESPONSE_END,
  ST_COUNT,
  ST_NONE = ST_COUNT
} stage;

static const char* const kStageNames[ST_COUNT] = {
    [ST_REQUEST_HEADERS] = "request-headers",   [ST_REQUEST_BODY] = "request-body",
    [ST_REQUEST_TRAILERS] = "request-trailers", [ST_REQUEST_END] = NULL,
    [ST_RESPONSE_HEADERS] = "response-headers", [ST_RESPONSE_BODY] = "response-body",
    [ST_RESPONSE_TRAILERS] = "response-trailers", [ST_RESPONSE_END] = NULL,
};

/* What one direction (request or response) of a stream has seen and is waiting for. */
typedef struct {
  bool hold;           /* an action needs the whole body before the headers may go on */
  bool pause_pending;  /* a pause action waits for its scheduler event */
  bool end_seen;       /* end of stream seen (eos on headers/body, or trailers) */
  bool end_at_headers; /* ... on the headers: there is no body */
  bool ended;          /* the *_END stage ran */
  bool body_modified;  /* an END action changed the body: fix content-length */
  unsigned frames;     /* body hook calls */
  uint64_t frame_bytes;
  sbuf frame_sizes, frame_eos, frame_received_buffered, frame_buffered_sizes;
  unsigned continues; /* continue_* calls to make when a pause ends */
  unsigned resumes;   /* pause events handled */
  uint64_t pause_started_ms, pause_elapsed_ms;
} direction;

/* Shared between a stream and the helper threads that commit to its scheduler. Whoever drops the last
 * reference deletes the scheduler: the stream in on_http_filter_destroy, or a helper thread after its
 * last commit (which is then after the stream is gone). */
typedef struct {
  atomic_int refs;
  nv_scheduler_ptr scheduler;
  atomic_bool stream_gone;
} probe_async;

struct action_def;
typedef struct {
  const struct action_def* def;
  stage at; /* staged actions: where to run */
  bool done;
} action_inst;

/* Wanted reports that are computed when the reports are written out. */
enum {
  W_HOOKS = 1u << 0,
  W_REQUEST_FRAMES = 1u << 1,
  W_RESPONSE_FRAMES = 1u << 2,
  W_PAUSE = 1u << 3,
  W_LOCAL_REPLY = 1u << 4,
};

typedef struct probe_stream {
  probe_config* cfg;
  uint32_t serial;
  pthread_t worker; /* the thread that ran on_http_filter_new */
  struct probe_stream* registry_next;
  int depth;          /* hooks of this stream currently on the stack */
  bool destroyed;     /* on_http_filter_destroy ran */
  bool free_pending;  /* destroy ran inside a hook: free when that hook returns */
  bool completed;     /* on_http_filter_stream_complete ran */
  bool started;       /* request_headers ran */
  bool finished;      /* the probe answered or reset the stream: no more actions */
  bool own_response;  /* the probe produced the response (send_response or streamed) */
  bool was_reset;     /* the probe called reset_stream */
  bool flushed;       /* reports were written out */
  bool inflight_counted;
  bool local_reply_reset; /* on_local_reply answers ContinueAndResetStream */
  int metric_results[3];  /* results of the per-request metric updates (see count_request) */
  unsigned wants;         /* W_* */
  unsigned wrong_thread;
  kv_list args;    /* x-probe* request headers (key = full lower-case name) */
  kv_list reports; /* name without prefix -> header-safe value */
  action_inst actions[MAX_ACTIONS];
  size_t n_actions;
  sbuf unknown_actions;
  sbuf hooks; /* hook trace: names in call order */
  bool hooks_truncated;
  direction request, response;
  probe_async* async;
  uint64_t terminal_request_bytes;
  /* Terminal streaming with an interval: what is left to send. */
  kv_list pieces; /* value = piece bytes */
  kv_list stream_trailers;
  size_t pieces_sent;
  bool trailers_pending;
  /* What on_local_reply saw on this stream. */
  unsigned local_reply_count;
  uint32_t local_reply_code;
  char* local_reply_details; /* NULL when the host passed a NULL pointer */
  bool local_reply_reset_imminent;
  /* What a hook returns while it waits (x-probe-stop-headers / x-probe-stop-body). */
  nv_headers_status stop_headers;
  nv_body_status stop_body;
} probe_stream;

/* Everything an action needs. */
typedef struct {
  probe_stream* s;
  probe_config* cfg;
  nv_filter_envoy_ptr fe;
  stage at;
  bool has_received; /* inside a body hook: the "received" body exists */
} ctx;

/* ---- Registry of streams that own a scheduler, so a stray on_scheduled never touches freed memory ---- */

enum { REGISTRY_BUCKETS = 256 };
static pthread_mutex_t g_registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static probe_stream* g_registry[REGISTRY_BUCKETS];

static void registry_add(probe_stream* s) {
  pthread_mutex_lock(&g_registry_mutex);
  probe_stream** head = &g_registry[s->serial % REGISTRY_BUCKETS];
  s->registry_next = *head;
  *head = s;
  pthread_mutex_unlock(&g_registry_mutex);
}

static void registry_remove(probe_stream* s) {
  pthread_mutex_lock(&g_registry_mutex);
  for (probe_stream** p = &g_registry[s->serial % REGISTRY_BUCKETS]; *p; p = &(*p)->registry_next) {
    if (*p == s) {
      *p = s->registry_next;
      break;
    }
  }
  pthread_mutex_unlock(&g_registry_mutex);
}

static probe_stream* registry_find(uint32_t serial) {
  pthread_mutex_lock(&g_registry_mutex);
  probe_stream* s = g_registry[serial % REGISTRY_BUCKETS];
  while (s && s->serial != serial) s = s->registry_next;
  pthread_mutex_unlock(&g_registry_mutex);
  return s;
}

/* ============================================================================================== */
/* 4. Helpers shared by the actions                                                               */
/* ============================================================================================== */

/* ---- Reports: name (without the x-probe-[<label>-] prefix) -> header-safe value ---- */

static void report(ctx* c, const char* name, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(ctx* c, const char* name, const char* fmt, ...) {
  char* v = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&v, fmt, ap);
  va_end(ap);
  if (n < 0) abort();
  kv_set(&c->s->reports, name, v, (size_t)n);
  free(v);
}

/* Reports arbitrary bytes, light-escaped; a NULL pointer reports "(none)". */
static void report_bytes(ctx* c, const char* name, const char* p, size_t n) {
  if (p == NULL) {
    report(c, name, "(none)");
    return;
  }
  sbuf b = {0};
  sb_esc(&b, p, n);
  kv_set(&c->s->reports, name, sb_str(&b), b.len);
  sb_free(&b);
}

static void report_sbuf(ctx* c, const char* name, const sbuf* b) { kv_set(&c->s->reports, name, sb_str(b), b->len); }

/* ---- Arguments: copies of the x-probe* request headers, taken in request_headers ---- */

/* Raw value of x-probe-<name> (first occurrence), or NULL. */
static const char* arg(ctx* c, const char* name) {
  char key[128];
  snprintf(key, sizeof key, "x-probe-%s", name);
  kv* e = kv_find(&c->s->args, key);
  return e ? e->value : NULL;
}

static uint64_t arg_u64(ctx* c, const char* name, uint64_t fallback) {
  uint64_t v;
  const char* s = arg(c, name);
  if (s == NULL) return fallback;
  if (!parse_u64(s, &v)) {
    plog(NV_LOG_WARN, "probe: x-probe-%s: '%s' is not a number; using %llu", name, s, (unsigned long long)fallback);
    return fallback;
  }
  return v;
}

/* %-decoded value of x-probe-<name> (or `fallback`, or NULL); the caller frees it. */
static char* arg_text(ctx* c, const char* name, const char* fallback, size_t* len) {
  const char* s = arg(c, name);
  if (s == NULL) s = fallback;
  if (s == NULL) {
    if (len) *len = 0;
    return NULL;
  }
  return pct_decode(s, strlen(s), len);
}

/* ---- Hook trace and liveness checks ---- */

static void trace_hook(probe_stream* s, const char* hook) {
  if (s->hooks_truncated) return;
  sb_sep(&s->hooks, ",");
  if (s->hooks.len > MAX_HOOK_TRACE) {
    sb_puts(&s->hooks, "...");
    s->hooks_truncated = true;
    return;
  }
  sb_puts(&s->hooks, hook);
}

/* After a callback that may end the stream (send_response, reset_stream): the host must not have destroyed
 * the per-stream object while this hook is still running. Safe to read because destroy never frees the
 * object while a hook is on the stack (see on_http_filter_destroy). */
static void check_alive_after(ctx* c, const char* callback) {
  if (c->s->destroyed) {
    BUMP(destroyed_after_callback);
    plog(NV_LOG_ERROR, "probe[%s]: stream %u was destroyed inside %s, before the hook returned", c->cfg->label,
         c->s->serial, callback);
  }
}

/* ---- Header maps ---- */

/* get_headers_size + get_headers; returns the count and a malloc'd array (free it). */
static nv_envoy_header* all_headers(ctx* c, nv_header_type t, size_t* n, bool* ok) {
  *n = envoy_dynamic_module_callback_http_get_headers_size(c->fe, t);
  nv_envoy_header* h = xcalloc(*n + 1, sizeof *h);
  *ok = *n == 0 || envoy_dynamic_module_callback_http_get_headers(c->fe, t, h);
  return h;
}

static bool header_present(ctx* c, nv_header_type t, const char* key) {
  nv_envoy_buffer v = {NULL, 0};
  return envoy_dynamic_module_callback_http_get_header(c->fe, t, mbs(key), &v, 0, NULL) && v.ptr != NULL;
}

/* ---- Bodies: "the whole body" of a direction at its end = buffered (+ received, inside a body hook,
 * unless the received frame is itself the buffered body) ---- */

typedef struct {
  nv_header_type headers;
  nv_body_type received, buffered;
  const char* name; /* "request" / "response" */
} dir_types;

static const dir_types kRequestTypes = {NV_HEADER_REQUEST, NV_BODY_RECEIVED_REQUEST, NV_BODY_BUFFERED_REQUEST,
                                        "request"};
static const dir_types kResponseTypes = {NV_HEADER_RESPONSE, NV_BODY_RECEIVED_RESPONSE, NV_BODY_BUFFERED_RESPONSE,
                                         "response"};

static bool received_is_buffered(ctx* c, const dir_types* t) {
  if (!c->has_received) return false;
  return t->received == NV_BODY_RECEIVED_REQUEST
             ? envoy_dynamic_module_callback_http_received_buffered_request_body(c->fe)
             : envoy_dynamic_module_callback_http_received_buffered_response_body(c->fe);
}

typedef struct {
  uint64_t length;
  uint32_t fnv;
  size_t chunks;
} body_digest;

static void digest_body_part(ctx* c, nv_body_type type, body_digest* d) {
  size_t n = envoy_dynamic_module_callback_http_get_body_chunks_size(c->fe, type);
  if (n == 0) return;
  nv_envoy_buffer* chunks = xcalloc(n, sizeof *chunks);
  if (envoy_dynamic_module_callback_http_get_body_chunks(c->fe, type, chunks)) {
    for (size_t i = 0; i < n; i++) {
      if (chunks[i].ptr == NULL) continue;
      d->fnv = fnv1a_update(d->fnv, chunks[i].ptr, chunks[i].length);
      d->length += chunks[i].length;
      d->chunks++;
    }
  }
  free(chunks);
}

static body_digest digest_whole_body(ctx* c, const dir_types* t) {
  body_digest d = {0, 2166136261u, 0};
  bool received_buffered = received_is_buffered(c, t);
  if (!received_buffered) digest_body_part(c, t->buffered, &d);
  if (c->has_received) digest_body_part(c, t->received, &d);
  return d;
}

static uint64_t whole_body_size(ctx* c, const dir_types* t) {
  uint64_t n = 0;
  if (!received_is_buffered(c, t)) n += envoy_dynamic_module_callback_http_get_body_size(c->fe, t->buffered);
  if (c->has_received) n += envoy_dynamic_module_callback_http_get_body_size(c->fe, t->received);
  return n;
}

/* Drains `n` bytes from the front of the whole body. */
static void drain_whole_body(ctx* c, const dir_types* t, uint64_t n) {
  if (!received_is_buffered(c, t)) {
    uint64_t buffered = envoy_dynamic_module_callback_http_get_body_size(c->fe, t->buffered);
    uint64_t k = n < buffered ? n : buffered;
    if (k) envoy_dynamic_module_callback_http_drain_body(c->fe, t->buffered, (size_t)k);
    n -= k;
  }
  if (n && c->has_received) envoy_dynamic_module_callback_http_drain_body(c->fe, t->received, (size_t)n);
}

/* Appends to the end of the whole body. */
static void append_whole_body(ctx* c, const dir_types* t, const char* p, size_t n) {
  envoy_dynamic_module_callback_http_append_body(c->fe, c->has_received ? t->received : t->buffered, mb(p, n));
}

/* Replaces the received frame by its upper-cased copy, with drain_body + append_body. */
static void upper_case_received(ctx* c, nv_body_type type) {
  size_t n = envoy_dynamic_module_callback_http_get_body_chunks_size(c->fe, type);
  if (n == 0) return;
  nv_envoy_buffer* chunks = xcalloc(n, sizeof *chunks);
  sbuf copy = {0};
  if (envoy_dynamic_module_callback_http_get_body_chunks(c->fe, type, chunks)) {
    for (size_t i = 0; i < n; i++) {
      if (chunks[i].ptr) sb_put(&copy, chunks[i].ptr, chunks[i].length);
    }
  }
  free(chunks);
  for (size_t i = 0; i < copy.len; i++) copy.p[i] = (char)toupper((unsigned char)copy.p[i]);
  if (copy.len) {
    envoy_dynamic_module_callback_http_drain_body(c->fe, type, copy.len);
    envoy_dynamic_module_callback_http_append_body(c->fe, type, mb(copy.p, copy.len));
  }
  sb_free(&copy);
}

/* ---- Scheduler and helper threads ---- */

/* Event ids: kind in bits 56..63, sequence number in bits 32..55, stream serial in bits 0..31. */
enum { EV_RESUME_DECODE = 1, EV_RESUME_ENCODE = 2, EV_STREAM_PIECE = 3, EV_LATE = 4 };
#define EVENT_ID(kind, seq, serial) (((uint64_t)(kind) << 56) | ((uint64_t)(seq) << 32) | (uint64_t)(serial))
static const uint64_t kConfigEventId = 0xC0F1C0F1u;

static void async_release(probe_async* a) {
  if (atomic_fetch_sub(&a->refs, 1) == 1) {
    envoy_dynamic_module_callback_http_filter_scheduler_delete(a->scheduler);
    BUMP(schedulers_deleted);
    free(a);
  }
}

/* The stream's scheduler, created on first use (on the worker). */
static probe_async* ensure_async(ctx* c) {
  probe_stream* s = c->s;
  if (s->async) return s->async;
  nv_scheduler_ptr scheduler = envoy_dynamic_module_callback_http_filter_scheduler_new(c->fe);
  if (scheduler == NULL) {
    plog(NV_LOG_ERROR, "probe[%s]: http_filter_scheduler_new returned NULL", c->cfg->label);
    return NULL;
  }
  BUMP(schedulers_created);
  probe_async* a = xcalloc(1, sizeof *a);
  atomic_init(&a->refs, 1); /* the stream's reference */
  a->scheduler = scheduler;
  s->async = a;
  registry_add(s);
  return a;
}

typedef struct {
  probe_async* async;
  uint64_t first_event; /* commit i carries first_event + (i << 32) */
  unsigned count;
  uint64_t delay_ms, interval_ms;
  bool wait_for_destroy; /* commit only after the stream was destroyed (late commit) */
} commit_job;

static void* commit_thread(void* arg) {
  commit_job* job = arg;
  if (job->wait_for_destroy) {
    uint64_t start = now_ms();
    while (!atomic_load(&job->async->stream_gone) && now_ms() - start < LATE_WAIT_LIMIT_MS) sleep_ms(1);
  }
  sleep_ms(job->delay_ms);
  for (unsigned i = 0; i < job->count; i++) {
    if (i) sleep_ms(job->interval_ms);
    bool gone = atomic_load(&job->async->stream_gone);
    envoy_dynamic_module_callback_http_filter_scheduler_commit(job->async->scheduler,
                                                               job->first_event + ((uint64_t)i << 32));
    if (job->wait_for_destroy && gone) BUMP(late_commits_sent);
  }
  async_release(job->async);
  free(job);
  BUMP(threads_finished);
  atomic_fetch_sub(&g_threads_inflight, 1);
  return NULL;
}

/* Starts a detached thread that commits `count` events to the stream's scheduler. */
static bool spawn_commits(ctx* c, int kind, unsigned count, uint64_t delay_ms, uint64_t interval_ms,
                          bool wait_for_destroy) {
  probe_async* a = ensure_async(c);
  if (a == NULL) return false;
  commit_job* job = xcalloc(1, sizeof *job);
  *job = (commit_job){a, EVENT_ID(kind, 0, c->s->serial), count, delay_ms, interval_ms, wait_for_destroy};
  atomic_fetch_add(&a->refs, 1);
  atomic_fetch_add(&g_threads_inflight, 1);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int rc = pthread_create(&t, &attr, commit_thread, job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    atomic_fetch_sub(&g_threads_inflight, 1);
    async_release(a);
    free(job);
    plog(NV_LOG_ERROR, "probe[%s]: pthread_create failed (%d)", c->cfg->label, rc);
    return false;
  }
  BUMP(threads_started);
  return true;
}

/* ---- Writing reports out ---- */

static void report_frames(ctx* c, const direction* d, const char* dir) {
  char name[96];
  snprintf(name, sizeof name, "%s-frames", dir);
  report(c, name, "%u", d->frames);
  snprintf(name, sizeof name, "%s-frame-sizes", dir);
  report_sbuf(c, name, &d->frame_sizes);
  snprintf(name, sizeof name, "%s-frame-eos", dir);
  report_sbuf(c, name, &d->frame_eos);
  snprintf(name, sizeof name, "%s-frame-received-buffered", dir);
  report_sbuf(c, name, &d->frame_received_buffered);
  snprintf(name, sizeof name, "%s-frame-buffered-sizes", dir);
  report_sbuf(c, name, &d->frame_buffered_sizes);
  snprintf(name, sizeof name, "%s-bytes", dir);
  report(c, name, "%llu", (unsigned long long)d->frame_bytes);
}

/* Adds the reports that accumulate over the stream (hook trace, frames, pauses, local replies). */
static void finalize_reports(ctx* c) {
  probe_stream* s = c->s;
  if (s->wants & W_HOOKS) {
    report_sbuf(c, "hooks", &s->hooks);
    report(c, "wrong-thread", "%u", s->wrong_thread);
  }
  if (s->wants & W_REQUEST_FRAMES) report_frames(c, &s->request, "request");
  if (s->wants & W_RESPONSE_FRAMES) report_frames(c, &s->response, "response");
  if (s->wants & W_PAUSE) {
    if (s->request.resumes || s->request.pause_pending) {
      report(c, "request-resumes", "%u", s->request.resumes);
      report(c, "request-pause-ms", "%llu", (unsigned long long)s->request.pause_elapsed_ms);
    }
    if (s->response.resumes || s->response.pause_pending) {
      report(c, "response-resumes", "%u", s->response.resumes);
      report(c, "response-pause-ms", "%llu", (unsigned long long)s->response.pause_elapsed_ms);
    }
  }
  if (s->wants & W_LOCAL_REPLY) {
    report(c, "local-reply-count", "%u", s->local_reply_count);
    if (s->local_reply_count) {
      report(c, "local-reply-code", "%u", s->local_reply_code);
      report_bytes(c, "local-reply-details", s->local_reply_details,
                   s->local_reply_details ? strlen(s->local_reply_details) : 0);
      report(c, "local-reply-reset-imminent", "%s", bool_str(s->local_reply_reset_imminent));
    }
  }
  if (s->unknown_actions.len) report_sbuf(c, "unknown-actions", &s->unknown_actions);
}

/* Full header name of a report: x-probe-[<label>-]<name>. */
static char* report_header_name(ctx* c, const kv* r, size_t* len) {
  char* name = NULL;
  int n = asprintf(&name, "%s%s", c->cfg->report_prefix, r->key);
  if (n < 0) abort();
  *len = (size_t)n;
  return name;
}

/* Writes the reports into the response headers (once; later reports are dropped). */
static void flush_reports(ctx* c) {
  probe_stream* s = c->s;
  if (s->flushed) return;
  s->flushed = true;
  finalize_reports(c);
  for (size_t i = 0; i < s->reports.n; i++) {
    size_t n;
    char* name = report_header_name(c, &s->reports.items[i], &n);
    envoy_dynamic_module_callback_http_set_header(c->fe, NV_HEADER_RESPONSE, mb(name, n),
                                                  mb(s->reports.items[i].value, s->reports.items[i].value_len));
    free(name);
  }
}

/* Builds the headers of a response the probe sends itself: `first` (e.g. :status), then `extra` (from the
 * request), then every report. Free with free_module_headers. */
static nv_module_header* reply_headers(ctx* c, const kv_list* first, const kv_list* extra, size_t* count,
                                       char*** names_out) {
  probe_stream* s = c->s;
  s->flushed = true;
  finalize_reports(c);
  size_t n = (first ? first->n : 0) + (extra ? extra->n : 0) + s->reports.n, k = 0;
  nv_module_header* h = xcalloc(n, sizeof *h);
  char** names = xcalloc(n, sizeof *names);
  const kv_list* lists[2] = {first, extra};
  for (int l = 0; l < 2; l++) {
    if (lists[l] == NULL) continue;
    for (size_t i = 0; i < lists[l]->n; i++, k++) {
      const kv* e = &lists[l]->items[i];
      h[k] = (nv_module_header){e->key, e->key_len, e->value, e->value_len};
    }
  }
  for (size_t i = 0; i < s->reports.n; i++, k++) {
    size_t len;
    names[k] = report_header_name(c, &s->reports.items[i], &len);
    h[k] = (nv_module_header){names[k], len, s->reports.items[i].value, s->reports.items[i].value_len};
  }
  *count = n;
  *names_out = names;
  return h;
}

static void free_module_headers(nv_module_header* h, char** names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  free(h);
}

/* send_response with the reports added as headers; the stream is finished afterwards. */
static void send_local_reply(ctx* c, uint32_t status, const kv_list* extra, const char* body, size_t body_len,
                             const char* details, size_t details_len) {
  size_t n;
  char** names;
  nv_module_header* h = reply_headers(c, NULL, extra, &n, &names);
  c->s->finished = c->s->own_response = true;
  BUMP(send_response_calls);
  unsigned local_replies_before = c->s->local_reply_count;
  envoy_dynamic_module_callback_http_send_response(c->fe, status, h, n, mb(body, body_len),
                                                   mb(details, details_len));
  check_alive_after(c, "send_response");
  if (c->s->local_reply_count > local_replies_before) BUMP(local_reply_hook_inside_call);
  /* Envoy only prepares a reply sent during a request hook: no response headers and no stream_complete
   * until the hook returns. From other hooks it is encoded inside the call. */
  if (c->s->completed) BUMP(reply_completed_inside_call);
  if (!c->s->destroyed && envoy_dynamic_module_callback_http_get_headers_size(c->fe, NV_HEADER_RESPONSE) > 0) {
    BUMP(reply_encoded_inside_call);
  }
  free_module_headers(h, names, n);
}

/* ============================================================================================== */
/* 5. Actions                                                                                     */
/* ============================================================================================== */

/* Per header map: report names and argument names. */
static const struct {
  const char* count;       /* report: number of entries */
  const char* dump;        /* report: the canonical dump */
  const char* get;         /* report prefix for get-* */
  const char* edit_arg;    /* argument: x-probe-<edit_arg> */
  const char* edit_report; /* report: result of each edit op */
} kMaps[4] = {
    [NV_HEADER_REQUEST] = {"request-header-count", "request-headers", "request-get", "edit-request",
                           "edit-request-results"},
    [NV_HEADER_REQUEST_TRAILER] = {"request-trailer-count", "request-trailers", "request-trailers-get",
                                   "edit-request-trailers", "edit-request-trailers-results"},
    [NV_HEADER_RESPONSE] = {"response-header-count", "response-headers", "response-get", "edit-response",
                            "edit-response-results"},
    [NV_HEADER_RESPONSE_TRAILER] = {"response-trailer-count", "response-trailers", "response-trailers-get",
                                    "edit-response-trailers", "edit-response-trailers-results"},
};

/* ---- Config, worker, globals ---- */

static void act_config(ctx* c) {
  probe_config* cfg = c->cfg;
  report(c, "callbacks-available", "get_header_values=%s,get_log_level=%s,config_increment_counter=%s,log_v2=%s",
         bool_str(HAVE_CALLBACK(http_get_header_values)), bool_str(HAVE_CALLBACK(get_log_level)),
         bool_str(HAVE_CALLBACK(http_filter_config_increment_counter)), bool_str(HAVE_CALLBACK(log_v2)));
  report(c, "program-init-calls", "%llu", (unsigned long long)atomic_load(&g.program_init_calls));
  report(c, "concurrency", "%u", cfg->concurrency);
  report(c, "validation-mode", "%s", bool_str(cfg->validation_mode));
  report_bytes(c, "filter-name", cfg->name, cfg->name_len);
  report_bytes(c, "filter-config", cfg->raw, cfg->raw_len);
  report(c, "filter-config-length", "%zu", cfg->raw_len);
  report(c, "config-id", "%llu", (unsigned long long)cfg->id);
  report(c, "config-new-on-init-thread", "%s", bool_str(cfg->on_init_thread));
  report(c, "config-scheduled", "%u", atomic_load(&cfg->config_scheduled_calls));
  report(c, "config-scheduled-on-main", "%u", atomic_load(&cfg->config_scheduled_on_main));
  report(c, "config-scheduled-off-main", "%u", atomic_load(&cfg->config_scheduled_off_main));
  int counter_result = atomic_load(&cfg->config_counter_result);
  if (counter_result < 0) {
    report(c, "config-counter-result", "(none)");
  } else {
    report(c, "config-counter-result", "%d", counter_result);
  }
  sbuf results = {0}, ids = {0};
  for (int i = 0; i < M_COUNT; i++) {
    sb_sep(&results, ",");
    sb_printf(&results, "%s=%d", kMetrics[i].suffix, cfg->metric_define_result[i]);
    sb_sep(&ids, ",");
    sb_printf(&ids, "%s=%zu", kMetrics[i].suffix, cfg->metric_id[i]);
  }
  report_sbuf(c, "metric-define", &results);
  report_sbuf(c, "metric-ids", &ids);
  sb_free(&results);
  sb_free(&ids);
}

/* Whether this object's symbols are in the global scope (loaded, or promoted, with RTLD_GLOBAL). Looked
 * up through the main program's handle: RTLD_DEFAULT from here would also search this object's own
 * local scope. */
static void act_global_visible(ctx* c) {
  void* program = dlopen(NULL, RTLD_LAZY);
  void* found = program ? dlsym(program, "envoy_dynamic_module_on_program_init") : NULL;
  if (program) dlclose(program);
  bool visible = found == (void*)&envoy_dynamic_module_on_program_init;
  if (visible) BUMP(global_symbol_visible);
  report(c, "global-visible", "%s", bool_str(visible));
}

static void act_worker(ctx* c) {
  report(c, "worker-index", "%u", envoy_dynamic_module_callback_http_filter_get_worker_index(c->fe));
}

static void act_globals(ctx* c) {
  cJSON* o = cJSON_CreateObject();
#define ADD_COUNTER(name) cJSON_AddNumberToObject(o, #name, (double)atomic_load(&g.name));
  PROBE_COUNTERS(ADD_COUNTER)
#undef ADD_COUNTER
  cJSON_AddNumberToObject(o, "streams_live",
                          (double)atomic_load(&g.streams_created) - (double)atomic_load(&g.streams_destroyed));
  cJSON_AddNumberToObject(o, "configs_live",
                          (double)atomic_load(&g.configs_created) - (double)atomic_load(&g.configs_destroyed));
  cJSON_AddNumberToObject(o, "threads_inflight", (double)atomic_load(&g_threads_inflight));
  cJSON_AddNumberToObject(o, "last_complete_before_destroy", atomic_load(&g_last_complete_before_destroy));
  pthread_mutex_lock(&g_last_reply_mutex);
  if (g_last_reply.seen) {
    cJSON* r = cJSON_AddObjectToObject(o, "last_local_reply");
    cJSON_AddNumberToObject(r, "code", g_last_reply.code);
    if (g_last_reply.details_null) {
      cJSON_AddNullToObject(r, "details");
    } else {
      cJSON_AddStringToObject(r, "details", g_last_reply.details);
    }
    cJSON_AddBoolToObject(r, "reset_imminent", g_last_reply.reset_imminent);
  } else {
    cJSON_AddNullToObject(o, "last_local_reply");
  }
  pthread_mutex_unlock(&g_last_reply_mutex);
  char* json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (json == NULL) abort();
  send_local_reply(c, 200, NULL, json, strlen(json), "probe_globals", strlen("probe_globals"));
  cJSON_free(json);
}

/* ---- Header maps ---- */

/* Count, and a dump "k=v&k=v" (strict escaping, host order) of one whole map. */
static void dump_map(ctx* c, nv_header_type t) {
  size_t n;
  bool ok;
  nv_envoy_header* h = all_headers(c, t, &n, &ok);
  sbuf dump = {0};
  for (size_t i = 0; ok && i < n; i++) {
    sb_sep(&dump, "&");
    sb_pct(&dump, h[i].key_ptr, h[i].key_ptr ? h[i].key_length : 0);
    sb_puts(&dump, "=");
    sb_pct(&dump, h[i].value_ptr, h[i].value_ptr ? h[i].value_length : 0);
  }
  report(c, kMaps[t].count, "%zu", n);
  if (ok) {
    report_sbuf(c, kMaps[t].dump, &dump);
  } else {
    report(c, kMaps[t].dump, "(error)");
  }
  sb_free(&dump);
  free(h);
}

/* Everything get_header / get_header_values say about the key in x-probe-key. */
static void get_key(ctx* c, nv_header_type t) {
  char name[96];
  size_t key_len;
  char* key = arg_text(c, "key", NULL, &key_len);
  if (key == NULL) {
    snprintf(name, sizeof name, "%s-error", kMaps[t].get);
    report(c, name, "no-x-probe-key");
    return;
  }
  nv_module_buffer k = mb(key, key_len);
  nv_envoy_buffer first = {NULL, 0};
  size_t count = 0;
  bool found = envoy_dynamic_module_callback_http_get_header(c->fe, t, k, &first, 0, &count);
  snprintf(name, sizeof name, "%s-found", kMaps[t].get);
  report(c, name, "%s", bool_str(found));
  snprintf(name, sizeof name, "%s-count", kMaps[t].get);
  report(c, name, "%zu", count);

  sbuf values = {0};
  for (size_t i = 0; i < count; i++) {
    nv_envoy_buffer v = {NULL, 0};
    bool ok = envoy_dynamic_module_callback_http_get_header(c->fe, t, k, &v, i, NULL);
    sb_sep(&values, ",");
    if (ok && v.ptr) {
      sb_pct(&values, v.ptr, v.length);
    } else {
      sb_puts(&values, "(none)");
    }
  }
  snprintf(name, sizeof name, "%s-values", kMaps[t].get);
  report_sbuf(c, name, &values);
  sb_free(&values);

  snprintf(name, sizeof name, "%s-values-bulk", kMaps[t].get);
  if (!HAVE_CALLBACK(http_get_header_values)) {
    report(c, name, "(unavailable)");
  } else if (count == 0) {
    /* Envoy answers true whenever the map exists, even without a value. */
    nv_envoy_buffer none = {"sentinel", 8};
    report(c, name, "%s", envoy_dynamic_module_callback_http_get_header_values(c->fe, t, k, &none) ? "(empty)" : "(error)");
  } else {
    nv_envoy_buffer* all = xcalloc(count, sizeof *all);
    bool ok = envoy_dynamic_module_callback_http_get_header_values(c->fe, t, k, all);
    sbuf bulk = {0};
    for (size_t i = 0; ok && i < count; i++) {
      sb_sep(&bulk, ",");
      if (all[i].ptr) {
        sb_pct(&bulk, all[i].ptr, all[i].length);
      } else {
        sb_puts(&bulk, "(none)");
      }
    }
    if (ok) {
      report_sbuf(c, name, &bulk);
    } else {
      report(c, name, "(error)");
    }
    sb_free(&bulk);
    free(all);
  }

  /* One past the last value: must return false and set the result to {NULL, 0}. */
  nv_envoy_buffer past = {"sentinel", 8};
  size_t past_count = 0;
  bool past_ok = envoy_dynamic_module_callback_http_get_header(c->fe, t, k, &past, count, &past_count);
  snprintf(name, sizeof name, "%s-past-end", kMaps[t].get);
  report(c, name, "ret=%s,ptr=%s,length=%zu,count=%zu", bool_str(past_ok), past.ptr ? "set" : "null", past.length,
         past_count);
  free(key);
}

/* Applies "set NAME VALUE; add NAME VALUE; remove NAME; set-empty NAME" from x-probe-<edit_arg>. */
static void edit_map(ctx* c, nv_header_type t) {
  const char* ops = arg(c, kMaps[t].edit_arg);
  if (ops == NULL) {
    report(c, kMaps[t].edit_report, "(none)");
    return;
  }
  sbuf results = {0};
  for (const char* p = ops; p && *p;) {
    const char* end = strchr(p, ';');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char* op = xstrndup(p, n);
    p = end ? end + 1 : NULL;
    char* save = NULL;
    char* verb = strtok_r(op, " \t", &save);
    if (verb == NULL) {
      free(op);
      continue;
    }
    char* key_raw = strtok_r(NULL, " \t", &save);
    char* value_raw = strtok_r(NULL, "", &save);
    if (value_raw) {
      size_t n_value = strlen(value_raw);
      while (n_value && (value_raw[n_value - 1] == ' ' || value_raw[n_value - 1] == '\t')) value_raw[--n_value] = '\0';
    }
    size_t key_len = 0, value_len = 0;
    /* "(empty)" stands for a zero-length key. */
    char* key = key_raw == NULL                    ? NULL
                : strcmp(key_raw, "(empty)") == 0 ? xstrdup("")
                                                  : pct_decode(key_raw, strlen(key_raw), &key_len);
    char* value = pct_decode(value_raw ? value_raw : "", value_raw ? strlen(value_raw) : 0, &value_len);
    const char* result = "error";
    if (key != NULL) {
      nv_module_buffer k = mb(key, key_len);
      if (strcmp(verb, "set") == 0) {
        result = bool_str(envoy_dynamic_module_callback_http_set_header(c->fe, t, k, mb(value, value_len)));
      } else if (strcmp(verb, "add") == 0) {
        result = bool_str(envoy_dynamic_module_callback_http_add_header(c->fe, t, k, mb(value, value_len)));
      } else if (strcmp(verb, "remove") == 0) {
        result = bool_str(envoy_dynamic_module_callback_http_set_header(c->fe, t, k, mb(NULL, 0)));
      } else if (strcmp(verb, "set-empty") == 0) {
        result = bool_str(envoy_dynamic_module_callback_http_set_header(c->fe, t, k, mb("", 0)));
      }
    }
    sb_sep(&results, ",");
    sb_puts(&results, result);
    free(key);
    free(value);
    free(op);
  }
  report_sbuf(c, kMaps[t].edit_report, &results);
  sb_free(&results);
}

static void act_dump_request(ctx* c) { dump_map(c, NV_HEADER_REQUEST); }
static void act_dump_response(ctx* c) { dump_map(c, NV_HEADER_RESPONSE); }
static void act_dump_request_trailers(ctx* c) { dump_map(c, NV_HEADER_REQUEST_TRAILER); }
static void act_dump_response_trailers(ctx* c) { dump_map(c, NV_HEADER_RESPONSE_TRAILER); }
static void act_get_request(ctx* c) { get_key(c, NV_HEADER_REQUEST); }
static void act_get_response(ctx* c) { get_key(c, NV_HEADER_RESPONSE); }
static void act_get_request_trailers(ctx* c) { get_key(c, NV_HEADER_REQUEST_TRAILER); }
static void act_get_response_trailers(ctx* c) { get_key(c, NV_HEADER_RESPONSE_TRAILER); }
static void act_edit_request(ctx* c) { edit_map(c, NV_HEADER_REQUEST); }
static void act_edit_response(ctx* c) { edit_map(c, NV_HEADER_RESPONSE); }
static void act_edit_request_trailers(ctx* c) { edit_map(c, NV_HEADER_REQUEST_TRAILER); }
static void act_edit_response_trailers(ctx* c) { edit_map(c, NV_HEADER_RESPONSE_TRAILER); }

static void report_header(ctx* c, nv_header_type t, const char* key, const char* name) {
  nv_envoy_buffer v = {NULL, 0};
  bool ok = envoy_dynamic_module_callback_http_get_header(c->fe, t, mbs(key), &v, 0, NULL);
  report_bytes(c, name, ok ? v.ptr : NULL, v.length);
}

static void act_pseudo_request(ctx* c) {
  report_header(c, NV_HEADER_REQUEST, ":method", "pseudo-method");
  report_header(c, NV_HEADER_REQUEST, ":path", "pseudo-path");
  report_header(c, NV_HEADER_REQUEST, ":authority", "pseudo-authority");
  report_header(c, NV_HEADER_REQUEST, ":scheme", "pseudo-scheme");
}

static void act_pseudo_response(ctx* c) { report_header(c, NV_HEADER_RESPONSE, ":status", "pseudo-status"); }

/* ---- Bodies ---- */

static direction* dir_of(ctx* c, const dir_types* t) {
  return t == &kRequestTypes ? &c->s->request : &c->s->response;
}

/* At the end of a direction: length and FNV-1a of the whole body, plus how the host split it. */
static void report_whole_body(ctx* c, const dir_types* t) {
  char name[96];
  body_digest d = digest_whole_body(c, t);
  snprintf(name, sizeof name, "%s-body-length", t->name);
  report(c, name, "%llu", (unsigned long long)d.length);
  snprintf(name, sizeof name, "%s-body-fnv1a", t->name);
  report(c, name, "%08x", d.fnv);
  snprintf(name, sizeof name, "%s-body-chunks", t->name);
  report(c, name, "%zu", d.chunks);
  snprintf(name, sizeof name, "%s-body-buffered-size", t->name);
  report(c, name, "%zu", envoy_dynamic_module_callback_http_get_body_size(c->fe, t->buffered));
  snprintf(name, sizeof name, "%s-body-received-size", t->name);
  if (c->has_received) {
    report(c, name, "%zu", envoy_dynamic_module_callback_http_get_body_size(c->fe, t->received));
  } else {
    report(c, name, "(none)");
  }
  snprintf(name, sizeof name, "%s-body-received-buffered", t->name);
  report(c, name, "%s", c->has_received ? bool_str(received_is_buffered(c, t)) : "(none)");
}

static void append_suffix(ctx* c, const dir_types* t) {
  char name[96];
  snprintf(name, sizeof name, "%s-suffix", t->name);
  if (dir_of(c, t)->end_at_headers) {
    report(c, name, "skipped-no-body");
    return;
  }
  size_t n;
  char* suffix = arg_text(c, "suffix", "-probe", &n);
  append_whole_body(c, t, suffix, n);
  dir_of(c, t)->body_modified = true;
  report(c, name, "appended");
  free(suffix);
}

static void drain_front(ctx* c, const dir_types* t) {
  char name[96];
  snprintf(name, sizeof name, "%s-drain", t->name);
  if (dir_of(c, t)->end_at_headers) {
    report(c, name, "skipped-no-body");
    return;
  }
  uint64_t n = arg_u64(c, "drain", 1);
  drain_whole_body(c, t, n);
  dir_of(c, t)->body_modified = true;
  report(c, name, "%llu", (unsigned long long)n);
}

/* After an END action changed the body: keep content-length (when present) right. */
static void fix_content_length(ctx* c, const dir_types* t) {
  if (!header_present(c, t->headers, "content-length")) return;
  char value[32];
  int n = snprintf(value, sizeof value, "%llu", (unsigned long long)whole_body_size(c, t));
  envoy_dynamic_module_callback_http_set_header(c->fe, t->headers, LIT("content-length"), mb(value, (size_t)n));
  char name[96];
  snprintf(name, sizeof name, "%s-content-length", t->name);
  report(c, name, "%s", value);
}

static void act_request_upper(ctx* c) { upper_case_received(c, NV_BODY_RECEIVED_REQUEST); }
static void act_response_upper(ctx* c) { upper_case_received(c, NV_BODY_RECEIVED_RESPONSE); }
static void act_request_buffer(ctx* c) { report_whole_body(c, &kRequestTypes); }
static void act_response_buffer(ctx* c) { report_whole_body(c, &kResponseTypes); }
static void act_request_suffix(ctx* c) { append_suffix(c, &kRequestTypes); }
static void act_response_suffix(ctx* c) { append_suffix(c, &kResponseTypes); }
static void act_request_drain(ctx* c) { drain_front(c, &kRequestTypes); }
static void act_response_drain(ctx* c) { drain_front(c, &kResponseTypes); }

static void act_buffer_limit(ctx* c) {
  report(c, "buffer-limit", "%llu",
         (unsigned long long)envoy_dynamic_module_callback_http_get_buffer_limit(c->fe));
  const char* set = arg(c, "set-buffer-limit");
  uint64_t limit;
  if (set && parse_u64(set, &limit)) {
    envoy_dynamic_module_callback_http_set_buffer_limit(c->fe, limit);
    report(c, "buffer-limit-after", "%llu",
           (unsigned long long)envoy_dynamic_module_callback_http_get_buffer_limit(c->fe));
  }
}

/* ---- Answering, resetting, pausing (staged: they run once, at the stage named in the token) ---- */

static void act_respond(ctx* c) {
  size_t body_len, details_len;
  char* body = arg_text(c, "body", "", &body_len);
  char* details = arg_text(c, "details", NULL, &details_len); /* absent: NULL details */
  kv_list extra = {0};
  const char* headers = arg(c, "respond-headers");
  if (headers) parse_pairs(headers, &extra);
  send_local_reply(c, (uint32_t)arg_u64(c, "status", 200), &extra, body, body_len, details, details_len);
  kv_free(&extra);
  free(body);
  free(details);
}

static void act_reset(ctx* c) {
  size_t n;
  char* details = arg_text(c, "reset-details", "probe_reset", &n);
  const char* reason = arg(c, "reset-reason");
  nv_http_filter_stream_reset_reason r = reason && strcmp(reason, "refused") == 0
                                             ? NV_FILTER_RESET_LOCAL_REFUSED_STREAM_RESET
                                             : NV_FILTER_RESET_LOCAL_RESET;
  c->s->finished = c->s->was_reset = true;
  BUMP(reset_calls);
  envoy_dynamic_module_callback_http_filter_reset_stream(c->fe, r, mb(details, n));
  check_alive_after(c, "reset_stream");
  free(details);
}

static void act_pause(ctx* c) {
  bool request = c->at < ST_RESPONSE_HEADERS;
  direction* d = request ? &c->s->request : &c->s->response;
  d->continues = (unsigned)arg_u64(c, "continues", 1);
  d->pause_started_ms = now_ms();
  d->pause_pending = true;
  c->s->wants |= W_PAUSE;
  if (!spawn_commits(c, request ? EV_RESUME_DECODE : EV_RESUME_ENCODE, 1, arg_u64(c, "delay-ms", 10), 0, false)) {
    d->pause_pending = false;
    report(c, "pause-error", "spawn-failed");
  }
}

/* ---- Scheduler after destroy, routing, local-reply hook ---- */

static void act_late_commit(ctx* c) {
  bool ok = spawn_commits(c, EV_LATE, 1, arg_u64(c, "late-delay-ms", 50), 0, true);
  report(c, "late-commit", "%s", ok ? "armed" : "failed");
}

static void act_clear_route_cache(ctx* c) {
  envoy_dynamic_module_callback_http_clear_route_cache(c->fe);
  report(c, "route-cache-cleared", "true");
}

static void act_local_reply_reset(ctx* c) { c->s->local_reply_reset = true; }

/* ---- Dynamic metadata and filter state ---- */

static void act_metadata_set(ctx* c) {
  size_t ns_len, str_len;
  char* ns = arg_text(c, "md-ns", "probe", &ns_len);
  const char* number_text = arg(c, "md-number");
  double number = number_text ? strtod(number_text, NULL) : 42.5;
  char* str = arg_text(c, "md-string", "hello", &str_len);
  const char* bool_text = arg(c, "md-bool");
  bool flag = bool_text ? strcmp(bool_text, "true") == 0 : true;
  nv_module_buffer n = mb(ns, ns_len);
  envoy_dynamic_module_callback_http_set_dynamic_metadata_number(c->fe, n, LIT("number"), number);
  envoy_dynamic_module_callback_http_set_dynamic_metadata_string(c->fe, n, LIT("string"), mb(str, str_len));
  envoy_dynamic_module_callback_http_set_dynamic_metadata_bool(c->fe, n, LIT("bool"), flag);
  char number_out[40];
  format_double(number_out, sizeof number_out, number);
  sbuf b = {0};
  sb_printf(&b, "number=%s,string=", number_out);
  sb_pct(&b, str, str_len);
  sb_printf(&b, ",bool=%s", bool_str(flag));
  report_sbuf(c, "md-set", &b);
  sb_free(&b);
  free(ns);
  free(str);
}

static bool parse_metadata_source(const char* s, nv_metadata_source* out) {
  static const char* const names[] = {"dynamic", "route", "cluster", "host", "host-locality"};
  for (size_t i = 0; i < COUNT_OF(names); i++) {
    if (strcmp(s, names[i]) == 0) {
      *out = (nv_metadata_source)i;
      return true;
    }
  }
  return false;
}

static void act_metadata_get(ctx* c) {
  size_t ns_len;
  char* ns = arg_text(c, "md-ns", "probe", &ns_len);
  nv_module_buffer n = mb(ns, ns_len);
  nv_metadata_source source = NV_METADATA_DYNAMIC;
  const char* source_text = arg(c, "md-source");
  if (source_text && !parse_metadata_source(source_text, &source)) report(c, "md-error", "bad-md-source");

  double number = 0;
  if (envoy_dynamic_module_callback_http_get_metadata_number(c->fe, source, n, LIT("number"), &number)) {
    char out[40];
    format_double(out, sizeof out, number);
    report(c, "md-number", "%s", out);
  } else {
    report(c, "md-number", "(none)");
  }
  nv_envoy_buffer str = {NULL, 0};
  bool has_string = envoy_dynamic_module_callback_http_get_metadata_string(c->fe, source, n, LIT("string"), &str);
  report_bytes(c, "md-string", has_string ? (str.ptr ? str.ptr : "") : NULL, str.length);
  bool flag = false;
  if (envoy_dynamic_module_callback_http_get_metadata_bool(c->fe, source, n, LIT("bool"), &flag)) {
    report(c, "md-bool", "%s", bool_str(flag));
  } else {
    report(c, "md-bool", "(none)");
  }

  /* Type mismatches and a missing key: each getter must return false. */
  double d = 0;
  nv_envoy_buffer s = {NULL, 0};
  bool b = false;
  bool string_as_number = envoy_dynamic_module_callback_http_get_metadata_number(c->fe, source, n, LIT("string"), &d);
  bool number_as_string = envoy_dynamic_module_callback_http_get_metadata_string(c->fe, source, n, LIT("number"), &s);
  bool number_as_bool = envoy_dynamic_module_callback_http_get_metadata_bool(c->fe, source, n, LIT("number"), &b);
  bool missing = envoy_dynamic_module_callback_http_get_metadata_string(c->fe, source, n, LIT("missing"), &s);
  report(c, "md-mismatch", "string-as-number=%s,number-as-string=%s,number-as-bool=%s", bool_str(string_as_number),
         bool_str(number_as_string), bool_str(number_as_bool));
  report(c, "md-missing", "%s", bool_str(missing));
  free(ns);
}

static void act_state_set(ctx* c) {
  size_t key_len, value_len;
  char* key = arg_text(c, "state-key", "probe.state", &key_len);
  char* value = arg_text(c, "state-value", "state-value", &value_len);
  bool ok = envoy_dynamic_module_callback_http_set_filter_state_bytes(c->fe, mb(key, key_len), mb(value, value_len));
  report(c, "state-set", "%s", bool_str(ok));
  free(key);
  free(value);
}

static void act_state_get(ctx* c) {
  size_t key_len;
  char* key = arg_text(c, "state-key", "probe.state", &key_len);
  nv_envoy_buffer v = {NULL, 0};
  bool ok = envoy_dynamic_module_callback_http_get_filter_state_bytes(c->fe, mb(key, key_len), &v);
  report_bytes(c, "state", ok ? (v.ptr ? v.ptr : "") : NULL, v.length);
  free(key);
}

static void act_route_config(ctx* c) {
  const probe_route_config* rc = envoy_dynamic_module_callback_get_most_specific_route_config(c->fe);
  report_bytes(c, "route-config-name", rc ? rc->name : NULL, rc ? rc->name_len : 0);
  report_bytes(c, "route-config", rc ? rc->raw : NULL, rc ? rc->raw_len : 0);
}

/* ---- Attributes ---- */

static const struct {
  nv_attribute_id id;
  const char* name;
  bool is_int;
} kRequestAttributes[] = {
    {NV_ATTR_REQUEST_PATH, "attr-path", false},
    {NV_ATTR_REQUEST_URL_PATH, "attr-url-path", false},
    {NV_ATTR_REQUEST_HOST, "attr-host", false},
    {NV_ATTR_REQUEST_SCHEME, "attr-scheme", false},
    {NV_ATTR_REQUEST_METHOD, "attr-method", false},
    {NV_ATTR_REQUEST_ID, "attr-request-id", false},
    {NV_ATTR_REQUEST_PROTOCOL, "attr-protocol", false},
    {NV_ATTR_SOURCE_ADDRESS, "attr-source-address", false},
    {NV_ATTR_SOURCE_PORT, "attr-source-port", true},
    {NV_ATTR_DESTINATION_ADDRESS, "attr-destination-address", false},
    {NV_ATTR_DESTINATION_PORT, "attr-destination-port", true},
    {NV_ATTR_XDS_ROUTE_NAME, "attr-route-name", false},
    {NV_ATTR_XDS_VIRTUAL_HOST_NAME, "attr-vhost-name", false},
    {NV_ATTR_XDS_CLUSTER_NAME, "attr-cluster-name", false},
};

static void report_attribute(ctx* c, nv_attribute_id id, const char* name, bool is_int) {
  if (is_int) {
    uint64_t v = 0;
    if (envoy_dynamic_module_callback_http_filter_get_attribute_int(c->fe, id, &v)) {
      report(c, name, "%llu", (unsigned long long)v);
    } else {
      report(c, name, "(none)");
    }
    return;
  }
  nv_envoy_buffer v = {NULL, 0};
  bool ok = envoy_dynamic_module_callback_http_filter_get_attribute_string(c->fe, id, &v);
  if (ok && v.length == 0) {
    report(c, name, "(empty)"); /* available but empty; an empty header value would be no header at all */
    return;
  }
  report_bytes(c, name, ok ? (v.ptr ? v.ptr : "") : NULL, v.length);
}

static void act_attributes_request(ctx* c) {
  for (size_t i = 0; i < COUNT_OF(kRequestAttributes); i++) {
    report_attribute(c, kRequestAttributes[i].id, kRequestAttributes[i].name, kRequestAttributes[i].is_int);
  }
  bool mtls = false;
  if (envoy_dynamic_module_callback_http_filter_get_attribute_bool(c->fe, NV_ATTR_CONNECTION_MTLS, &mtls)) {
    report(c, "attr-mtls", "%s", bool_str(mtls));
  } else {
    report(c, "attr-mtls", "(none)");
  }
}

static void act_attributes_response(ctx* c) {
  report_attribute(c, NV_ATTR_RESPONSE_CODE, "attr-response-code", true);
}

/* ---- Metrics ---- */

static void act_metrics(ctx* c) {
  probe_config* cfg = c->cfg;
  probe_stream* s = c->s;
  sbuf r = {0};
  const char* counter = arg(c, "counter");
  uint64_t v;
  if (counter && parse_u64(counter, &v)) {
    sb_sep(&r, ",");
    sb_printf(&r, "custom=%d",
              envoy_dynamic_module_callback_http_filter_increment_counter(c->fe, cfg->metric_id[M_CUSTOM], NULL, 0, v));
  }
  const char* gauge = arg(c, "gauge");
  if (gauge) {
    const char* colon = strchr(gauge, ':');
    int result = -1;
    if (colon && parse_u64(colon + 1, &v)) {
      size_t id = cfg->metric_id[M_GAUGE];
      if (strncmp(gauge, "set:", 4) == 0) {
        result = envoy_dynamic_module_callback_http_filter_set_gauge(c->fe, id, NULL, 0, v);
      } else if (strncmp(gauge, "inc:", 4) == 0) {
        result = envoy_dynamic_module_callback_http_filter_increment_gauge(c->fe, id, NULL, 0, v);
      } else if (strncmp(gauge, "dec:", 4) == 0) {
        result = envoy_dynamic_module_callback_http_filter_decrement_gauge(c->fe, id, NULL, 0, v);
      }
    }
    sb_sep(&r, ",");
    sb_printf(&r, "gauge=%d", result);
  }
  const char* histogram = arg(c, "histogram");
  if (histogram && parse_u64(histogram, &v)) {
    sb_sep(&r, ",");
    sb_printf(&r, "values=%d",
              envoy_dynamic_module_callback_http_filter_record_histogram_value(c->fe, cfg->metric_id[M_VALUES], NULL,
                                                                               0, v));
  }
  /* Defining outside config_new must answer Frozen (3). */
  char* late_name = NULL;
  if (asprintf(&late_name, "%s_late", cfg->metric_prefix) < 0) abort();
  size_t late_id = 0;
  int define_late = envoy_dynamic_module_callback_http_filter_config_define_counter(cfg->ce, mbs(late_name), NULL, 0,
                                                                                     &late_id);
  free(late_name);
  /* Two label values for a one-label counter must answer InvalidLabels (2). */
  nv_module_buffer two[2] = {LIT("a"), LIT("b")};
  int wrong_labels =
      envoy_dynamic_module_callback_http_filter_increment_counter(c->fe, cfg->metric_id[M_BY_METHOD], two, 2, 1);
  /* An id that was never handed out must answer MetricNotFound (1). */
  int bad_id = envoy_dynamic_module_callback_http_filter_increment_counter(c->fe, (size_t)1000000, NULL, 0, 1);
  sb_sep(&r, ",");
  sb_printf(&r, "define_late=%d,wrong_labels=%d,bad_id=%d", define_late, wrong_labels, bad_id);
  report_sbuf(c, "metric-results", &r);
  sb_free(&r);
  report(c, "metric-request-results", "requests=%d,requests_by_method=%d,inflight=%d", s->metric_results[0],
         s->metric_results[1], s->metric_results[2]);
}

/* Every request: probe_requests +1, probe_requests_by_method{method} +1, probe_inflight +1 (-1 at
 * stream_complete). Results are kept for the metrics action (-1: metric not defined). */
static void count_request(ctx* c) {
  probe_config* cfg = c->cfg;
  int* results = c->s->metric_results;
  results[0] = results[1] = results[2] = -1;
  if (cfg->metric_define_result[M_REQUESTS] == NV_METRICS_SUCCESS) {
    results[0] =
        envoy_dynamic_module_callback_http_filter_increment_counter(c->fe, cfg->metric_id[M_REQUESTS], NULL, 0, 1);
  }
  if (cfg->metric_define_result[M_BY_METHOD] == NV_METRICS_SUCCESS) {
    nv_envoy_buffer method = {NULL, 0};
    envoy_dynamic_module_callback_http_get_header(c->fe, NV_HEADER_REQUEST, LIT(":method"), &method, 0, NULL);
    nv_module_buffer label = mb(method.ptr ? method.ptr : "", method.ptr ? method.length : 0);
    results[1] =
        envoy_dynamic_module_callback_http_filter_increment_counter(c->fe, cfg->metric_id[M_BY_METHOD], &label, 1, 1);
  }
  if (cfg->metric_define_result[M_INFLIGHT] == NV_METRICS_SUCCESS) {
    results[2] =
        envoy_dynamic_module_callback_http_filter_increment_gauge(c->fe, cfg->metric_id[M_INFLIGHT], NULL, 0, 1);
    c->s->inflight_counted = results[2] == NV_METRICS_SUCCESS;
  }
}

/* ---- Logging ---- */

static const char* const kLevelNames[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

static bool parse_level(const char* s, size_t n, nv_log_level* out) {
  for (size_t i = 0; i < COUNT_OF(kLevelNames); i++) {
    if (strlen(kLevelNames[i]) == n && strncmp(s, kLevelNames[i], n) == 0) {
      *out = (nv_log_level)i;
      return true;
    }
  }
  return false;
}

/* x-probe-log / x-probe-log-v2: "<level>:<message>"; reports what was sent. */
static void log_from_arg(ctx* c, const char* arg_name, bool v2) {
  const char* spec = arg(c, arg_name);
  if (spec == NULL) return;
  const char* colon = strchr(spec, ':');
  nv_log_level level;
  if (colon == NULL || !parse_level(spec, (size_t)(colon - spec), &level)) {
    report(c, v2 ? "log-v2-result" : "log-result", "invalid");
    return;
  }
  size_t n;
  char* message = pct_decode(colon + 1, strlen(colon + 1), &n);
  if (v2 && !HAVE_CALLBACK(log_v2)) {
    report(c, "log-v2-result", "unavailable");
    free(message);
    return;
  }
  if (v2) {
    envoy_dynamic_module_callback_log_v2(level, mb(message, n), LIT("probe.c"), (uint32_t)__LINE__);
  } else {
    envoy_dynamic_module_callback_log(level, mb(message, n));
  }
  report(c, v2 ? "log-v2-result" : "log-result", "sent");
  free(message);
}

static void act_log(ctx* c) {
  log_from_arg(c, "log", false);
  log_from_arg(c, "log-v2", true);
  sbuf enabled = {0};
  for (int l = NV_LOG_TRACE; l <= NV_LOG_CRITICAL; l++) {
    sb_sep(&enabled, ",");
    sb_printf(&enabled, "%s=%d", kLevelNames[l], envoy_dynamic_module_callback_log_enabled((nv_log_level)l) ? 1 : 0);
  }
  report_sbuf(c, "log-enabled", &enabled);
  sb_free(&enabled);
  if (!HAVE_CALLBACK(get_log_level)) {
    report(c, "log-level", "(unavailable)");
    return;
  }
  int level = (int)envoy_dynamic_module_callback_get_log_level();
  report(c, "log-level", "%s", level >= 0 && level < (int)COUNT_OF(kLevelNames) ? kLevelNames[level] : "(unknown)");
}

/* ---- The table ---- */

enum {
  A_STAGED = 1u << 0,        /* runs once, at the stage given as "name:stage" (default request-headers) */
  A_HOLD_REQUEST = 1u << 1,  /* needs the whole request body: request headers wait for the end */
  A_HOLD_RESPONSE = 1u << 2, /* needs the whole response: response headers wait for the end */
};

typedef void (*action_fn)(ctx*);

typedef struct action_def {
  const char* name;
  unsigned flags;
  unsigned wants;
  action_fn run;          /* A_STAGED */
  action_fn at[ST_COUNT]; /* otherwise: called at each of these stages */
} action_def;

static const action_def kActions[] = {
    /* Config and process */
    {.name = "config", .at = {[ST_REQUEST_HEADERS] = act_config}},
    {.name = "worker", .flags = A_STAGED, .run = act_worker},
    {.name = "global-visible", .at = {[ST_REQUEST_HEADERS] = act_global_visible}},
    {.name = "hooks", .wants = W_HOOKS},
    {.name = "globals", .at = {[ST_REQUEST_HEADERS] = act_globals}},
    /* Header maps */
    {.name = "dump-request", .at = {[ST_REQUEST_HEADERS] = act_dump_request}},
    {.name = "dump-response", .at = {[ST_RESPONSE_HEADERS] = act_dump_response}},
    {.name = "dump-request-trailers", .at = {[ST_REQUEST_TRAILERS] = act_dump_request_trailers}},
    {.name = "dump-response-trailers",
     .flags = A_HOLD_RESPONSE,
     .at = {[ST_RESPONSE_TRAILERS] = act_dump_response_trailers}},
    {.name = "get-request", .at = {[ST_REQUEST_HEADERS] = act_get_request}},
    {.name = "get-response", .at = {[ST_RESPONSE_HEADERS] = act_get_response}},
    {.name = "get-request-trailers", .at = {[ST_REQUEST_TRAILERS] = act_get_request_trailers}},
    {.name = "get-response-trailers",
     .flags = A_HOLD_RESPONSE,
     .at = {[ST_RESPONSE_TRAILERS] = act_get_response_trailers}},
    {.name = "edit-request", .at = {[ST_REQUEST_HEADERS] = act_edit_request}},
    {.name = "edit-response", .at = {[ST_RESPONSE_HEADERS] = act_edit_response}},
    {.name = "edit-request-trailers", .at = {[ST_REQUEST_TRAILERS] = act_edit_request_trailers}},
    {.name = "edit-response-trailers", .at = {[ST_RESPONSE_TRAILERS] = act_edit_response_trailers}},
    {.name = "pseudo", .at = {[ST_REQUEST_HEADERS] = act_pseudo_request, [ST_RESPONSE_HEADERS] = act_pseudo_response}},
    /* Bodies */
    {.name = "request-frames", .wants = W_REQUEST_FRAMES},
    {.name = "response-frames", .flags = A_HOLD_RESPONSE, .wants = W_RESPONSE_FRAMES},
    {.name = "request-upper", .at = {[ST_REQUEST_BODY] = act_request_upper}},
    {.name = "response-upper", .at = {[ST_RESPONSE_BODY] = act_response_upper}},
    {.name = "request-buffer", .flags = A_HOLD_REQUEST, .at = {[ST_REQUEST_END] = act_request_buffer}},
    {.name = "response-buffer", .flags = A_HOLD_RESPONSE, .at = {[ST_RESPONSE_END] = act_response_buffer}},
    {.name = "request-suffix", .flags = A_HOLD_REQUEST, .at = {[ST_REQUEST_END] = act_request_suffix}},
    {.name = "response-suffix", .flags = A_HOLD_RESPONSE, .at = {[ST_RESPONSE_END] = act_response_suffix}},
    {.name = "request-drain", .flags = A_HOLD_REQUEST, .at = {[ST_REQUEST_END] = act_request_drain}},
    {.name = "response-drain", .flags = A_HOLD_RESPONSE, .at = {[ST_RESPONSE_END] = act_response_drain}},
    {.name = "buffer-limit", .at = {[ST_REQUEST_HEADERS] = act_buffer_limit}},
    /* Stream control */
    {.name = "respond", .flags = A_STAGED, .run = act_respond},
    {.name = "reset", .flags = A_STAGED, .run = act_reset},
    {.name = "pause", .flags = A_STAGED, .run = act_pause},
    {.name = "late-commit", .at = {[ST_REQUEST_HEADERS] = act_late_commit}},
    {.name = "clear-route-cache", .at = {[ST_REQUEST_HEADERS] = act_clear_route_cache}},
    {.name = "local-reply", .wants = W_LOCAL_REPLY},
    {.name = "local-reply-reset", .at = {[ST_REQUEST_HEADERS] = act_local_reply_reset}},
    /* Shared state */
    {.name = "metadata-set", .flags = A_STAGED, .run = act_metadata_set},
    {.name = "metadata-get", .flags = A_STAGED, .run = act_metadata_get},
    {.name = "state-set", .flags = A_STAGED, .run = act_state_set},
    {.name = "state-get", .flags = A_STAGED, .run = act_state_get},
    {.name = "route-config", .at = {[ST_REQUEST_HEADERS] = act_route_config}},
    {.name = "attributes",
     .at = {[ST_REQUEST_HEADERS] = act_attributes_request, [ST_RESPONSE_HEADERS] = act_attributes_response}},
    /* Metrics and logs */
    {.name = "metrics", .flags = A_STAGED, .run = act_metrics},
    {.name = "log", .flags = A_STAGED, .run = act_log},
};

/* ============================================================================================== */
/* 6. Flow control and the exported hooks                                                         */
/* ============================================================================================== */

/* ---- Parsing the action list ---- */

static const action_def* find_action(const char* name, size_t n) {
  for (size_t i = 0; i < COUNT_OF(kActions); i++) {
    if (strlen(kActions[i].name) == n && memcmp(kActions[i].name, name, n) == 0) return &kActions[i];
  }
  return NULL;
}

static bool parse_stage(const char* s, size_t n, stage* out) {
  for (int i = 0; i < ST_COUNT; i++) {
    if (kStageNames[i] && strlen(kStageNames[i]) == n && memcmp(kStageNames[i], s, n) == 0) {
      *out = (stage)i;
      return true;
    }
  }
  return false;
}

/* One token: name[:stage][@label]. Tokens for another label are skipped; bad ones are reported. */
static void add_action(ctx* c, const char* tok, size_t n) {
  probe_stream* s = c->s;
  const char* at_sign = memchr(tok, '@', n);
  size_t body_len = at_sign ? (size_t)(at_sign - tok) : n;
  if (at_sign) {
    size_t label_len = n - body_len - 1;
    if (label_len != strlen(c->cfg->label) || memcmp(at_sign + 1, c->cfg->label, label_len) != 0) return;
  }
  const char* colon = memchr(tok, ':', body_len);
  size_t name_len = colon ? (size_t)(colon - tok) : body_len;
  const action_def* def = find_action(tok, name_len);
  stage where = ST_REQUEST_HEADERS;
  bool ok = def != NULL && s->n_actions < MAX_ACTIONS;
  if (ok && colon) ok = (def->flags & A_STAGED) && parse_stage(colon + 1, body_len - name_len - 1, &where);
  if (!ok) {
    sb_sep(&s->unknown_actions, ",");
    sb_pct(&s->unknown_actions, tok, n);
    return;
  }
  s->actions[s->n_actions++] = (action_inst){def, where, false};
  if (def->flags & A_HOLD_REQUEST) s->request.hold = true;
  if (def->flags & A_HOLD_RESPONSE) s->response.hold = true;
  s->wants |= def->wants;
}

static void add_action_list(ctx* c, const char* list) {
  for (const char* p = list; p && *p;) {
    size_t n = strcspn(p, ",");
    const char* tok = p;
    size_t len = n;
    while (len && (*tok == ' ' || *tok == '\t')) tok++, len--;
    while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t')) len--;
    if (len) add_action(c, tok, len);
    p += n;
    if (*p == ',') p++;
  }
}

/* Copies every x-probe* request header (all values of x-probe itself, joined by ','). */
static void load_args(ctx* c) {
  size_t n;
  bool ok;
  nv_envoy_header* h = all_headers(c, NV_HEADER_REQUEST, &n, &ok);
  sbuf actions = {0};
  for (size_t i = 0; ok && i < n; i++) {
    size_t kn = h[i].key_length;
    if (h[i].key_ptr == NULL || kn < 7 || strncasecmp(h[i].key_ptr, "x-probe", 7) != 0) continue;
    if (kn > 7 && h[i].key_ptr[7] != '-') continue;
    const char* value = h[i].value_ptr ? h[i].value_ptr : "";
    size_t vn = h[i].value_ptr ? h[i].value_length : 0;
    if (kn == 7) {
      sb_sep(&actions, ",");
      sb_put(&actions, value, vn);
      continue;
    }
    char* key = xstrndup(h[i].key_ptr, kn);
    for (size_t j = 0; j < kn; j++) key[j] = (char)tolower((unsigned char)key[j]);
    kv_add(&c->s->args, key, kn, value, vn);
    free(key);
  }
  free(h);
  if (actions.len) kv_add(&c->s->args, "x-probe", 7, actions.p, actions.len);
  sb_free(&actions);
}

/* x-probe-stop-headers: iteration (default), all-buffer, all-watermark; x-probe-stop-body: buffer
 * (default), watermark. What the headers / body hooks return while the probe waits. */
static void load_stop_statuses(ctx* c) {
  const char* h = arg(c, "stop-headers");
  c->s->stop_headers = h && strcmp(h, "all-watermark") == 0 ? NV_HEADERS_STOP_ALL_ITERATION_AND_WATERMARK
                       : h && strcmp(h, "all-buffer") == 0  ? NV_HEADERS_STOP_ALL_ITERATION_AND_BUFFER
                                                            : NV_HEADERS_STOP_ITERATION;
  const char* b = arg(c, "stop-body");
  c->s->stop_body = b && strcmp(b, "watermark") == 0 ? NV_BODY_STOP_ITERATION_AND_WATERMARK
                                                     : NV_BODY_STOP_ITERATION_AND_BUFFER;
}

static void start_stream(ctx* c) {
  load_args(c);
  load_stop_statuses(c);
  add_action_list(c, c->cfg->actions);
  kv* header = kv_find(&c->s->args, "x-probe");
  if (header) add_action_list(c, header->value);
  count_request(c);
}

/* ---- Stages, ends of stream, pauses ---- */

static void run_stage(ctx* c, stage at) {
  probe_stream* s = c->s;
  stage saved = c->at;
  c->at = at;
  for (size_t i = 0; i < s->n_actions && !s->finished; i++) {
    action_inst* a = &s->actions[i];
    if (a->def->flags & A_STAGED) {
      if (!a->done && a->at == at) {
        a->done = true;
        a->def->run(c);
      }
    } else if (a->def->at[at]) {
      a->def->at[at](c);
    }
  }
  c->at = saved;
}

static void kv_to_headers(const kv_list* l, nv_module_header* out) {
  for (size_t i = 0; i < l->n; i++) {
    out[i] = (nv_module_header){l->items[i].key, l->items[i].key_len, l->items[i].value, l->items[i].value_len};
  }
}

/* Terminal mode: piece `seq` of the streamed body, or the trailers after the last piece. */
static void stream_piece(ctx* c, size_t seq) {
  probe_stream* s = c->s;
  if (seq < s->pieces.n) {
    const kv* p = &s->pieces.items[seq];
    bool last = seq + 1 == s->pieces.n && s->stream_trailers.n == 0;
    envoy_dynamic_module_callback_http_send_response_data(c->fe, mb(p->value, p->value_len), last);
    s->pieces_sent++;
  } else if (seq == s->pieces.n && s->trailers_pending) {
    s->trailers_pending = false;
    nv_module_header* t = xcalloc(s->stream_trailers.n, sizeof *t);
    kv_to_headers(&s->stream_trailers, t);
    envoy_dynamic_module_callback_http_send_response_trailers(c->fe, t, s->stream_trailers.n);
    free(t);
  }
}

/* Terminal mode: the request is complete; answer with send_response_headers / _data / _trailers. */
static void terminal_respond(ctx* c) {
  probe_stream* s = c->s;
  report(c, "terminal-request-bytes", "%llu", (unsigned long long)s->terminal_request_bytes);
  char status[24];
  snprintf(status, sizeof status, "%llu", (unsigned long long)arg_u64(c, "status", 200));
  kv_list first = {0}, extra = {0};
  kv_add(&first, ":status", 7, status, strlen(status));
  const char* headers = arg(c, "respond-headers");
  if (headers) parse_pairs(headers, &extra);

  const char* body = arg(c, "stream-body");
  if (body == NULL) {
    static const char* const kDefaultPieces[] = {"piece-0\n", "piece-1\n", "piece-2\n"};
    for (size_t i = 0; i < COUNT_OF(kDefaultPieces); i++) kv_add(&s->pieces, "", 0, kDefaultPieces[i], 8);
  } else {
    for (const char* p = body; *p;) {
      size_t n = strcspn(p, ";"), len;
      if (n) {
        char* piece = pct_decode(p, n, &len);
        kv_add(&s->pieces, "", 0, piece, len);
        free(piece);
      }
      p += n;
      if (*p == ';') p++;
    }
  }
  const char* trailers = arg(c, "stream-trailers");
  if (trailers) parse_pairs(trailers, &s->stream_trailers);
  s->trailers_pending = s->stream_trailers.n > 0;

  size_t n;
  char** names;
  nv_module_header* h = reply_headers(c, &first, &extra, &n, &names);
  s->finished = s->own_response = true;
  BUMP(streamed_responses);
  bool headers_only = s->pieces.n == 0 && s->stream_trailers.n == 0;
  envoy_dynamic_module_callback_http_send_response_headers(c->fe, h, n, headers_only);
  free_module_headers(h, names, n);
  kv_free(&first);
  kv_free(&extra);
  if (headers_only) return;

  size_t steps = s->pieces.n + (s->stream_trailers.n ? 1 : 0);
  uint64_t interval = arg_u64(c, "stream-interval-ms", 0);
  if (interval > 0 && spawn_commits(c, EV_STREAM_PIECE, (unsigned)steps, interval, interval, false)) return;
  for (size_t i = 0; i < steps; i++) stream_piece(c, i);
}

/* The whole body of a direction has been seen: run its END actions. */
static void end_direction(ctx* c, bool request, bool has_received) {
  probe_stream* s = c->s;
  direction* d = request ? &s->request : &s->response;
  const dir_types* t = request ? &kRequestTypes : &kResponseTypes;
  bool saved = c->has_received;
  c->has_received = has_received;
  d->ended = true;
  run_stage(c, request ? ST_REQUEST_END : ST_RESPONSE_END);
  if (d->body_modified && !s->finished) fix_content_length(c, t);
  if (request && c->cfg->terminal && !s->finished) terminal_respond(c);
  c->has_received = saved;
}

typedef enum {
  FLOW_GO,   /* let the data go on */
  FLOW_WAIT, /* hold it (pause pending, or waiting for the end of the body) */
  FLOW_HALT  /* the probe answered or reset the stream */
} flow;

static flow request_flow(ctx* c, bool end, bool at_headers) {
  probe_stream* s = c->s;
  direction* d = &s->request;
  if (s->finished) return FLOW_HALT;
  if (end && !d->end_seen) {
    d->end_seen = true;
    d->end_at_headers = at_headers;
  }
  if (d->pause_pending) return FLOW_WAIT;
  if (!d->end_seen && (d->hold || c->cfg->terminal)) return FLOW_WAIT;
  if (d->end_seen && !d->ended) end_direction(c, true, c->has_received);
  return s->finished ? FLOW_HALT : FLOW_GO;
}

static flow response_flow(ctx* c, bool end, bool at_headers) {
  probe_stream* s = c->s;
  direction* d = &s->response;
  if (s->finished) return FLOW_HALT;
  if (end && !d->end_seen) {
    d->end_seen = true;
    d->end_at_headers = at_headers;
  }
  if (d->pause_pending) return FLOW_WAIT;
  if (!d->end_seen && d->hold) return FLOW_WAIT;
  if (d->end_seen && !d->ended) end_direction(c, false, c->has_received);
  if (s->finished) return FLOW_HALT;
  flush_reports(c);
  return FLOW_GO;
}

/* on_scheduled for a pause: the delay is over; continue unless the direction still waits for its end. */
static void resume(ctx* c, bool request) {
  probe_stream* s = c->s;
  direction* d = request ? &s->request : &s->response;
  if (!d->pause_pending) return;
  d->pause_pending = false;
  d->resumes++;
  d->pause_elapsed_ms = now_ms() - d->pause_started_ms;
  if (s->finished) return;
  if (!d->end_seen && (d->hold || (request && c->cfg->terminal))) return; /* the end of the body continues */
  if (d->end_seen && !d->ended) {
    end_direction(c, request, false);
    if (s->finished) return;
  }
  if (!request) flush_reports(c);
  for (unsigned i = 0; i < d->continues; i++) {
    if (request) {
      BUMP(continue_decoding_calls);
      envoy_dynamic_module_callback_http_filter_continue_decoding(c->fe);
    } else {
      BUMP(continue_encoding_calls);
      envoy_dynamic_module_callback_http_filter_continue_encoding(c->fe);
    }
  }
}

/* Records one body hook call; returns the size of the received frame. */
static uint64_t record_frame(ctx* c, direction* d, const dir_types* t, bool eos) {
  uint64_t size = envoy_dynamic_module_callback_http_get_body_size(c->fe, t->received);
  uint64_t buffered = envoy_dynamic_module_callback_http_get_body_size(c->fe, t->buffered);
  d->frames++;
  d->frame_bytes += size;
  sb_sep(&d->frame_sizes, ",");
  sb_printf(&d->frame_sizes, "%llu", (unsigned long long)size);
  sb_sep(&d->frame_eos, ",");
  sb_puts(&d->frame_eos, eos ? "1" : "0");
  sb_sep(&d->frame_received_buffered, ",");
  sb_puts(&d->frame_received_buffered, received_is_buffered(c, t) ? "1" : "0");
  sb_sep(&d->frame_buffered_sizes, ",");
  sb_printf(&d->frame_buffered_sizes, "%llu", (unsigned long long)buffered);
  return size;
}

/* ---- Per-stream object lifetime ---- */

static void direction_free(direction* d) {
  sb_free(&d->frame_sizes);
  sb_free(&d->frame_eos);
  sb_free(&d->frame_received_buffered);
  sb_free(&d->frame_buffered_sizes);
}

static void stream_free(probe_stream* s) {
  kv_free(&s->args);
  kv_free(&s->reports);
  kv_free(&s->pieces);
  kv_free(&s->stream_trailers);
  sb_free(&s->unknown_actions);
  sb_free(&s->hooks);
  direction_free(&s->request);
  direction_free(&s->response);
  free(s->local_reply_details);
  free(s);
}

/* Every per-stream hook starts here: checks the thread, counts hooks that come too late, and marks the
 * object as in use so that a destroy from inside the hook cannot free it under our feet. */
static probe_stream* enter(nv_filter_module_ptr fm, const char* hook, bool lifecycle_hook) {
  probe_stream* s = (probe_stream*)fm;
  if (!pthread_equal(pthread_self(), s->worker)) {
    BUMP(wrong_thread_calls);
    s->wrong_thread++;
    plog(NV_LOG_ERROR, "probe[%s]: %s for stream %u ran on a thread other than on_http_filter_new's",
         s->cfg->label, hook, s->serial);
  }
  if (!lifecycle_hook) {
    if (s->completed) BUMP(hooks_after_complete);
    if (s->was_reset) BUMP(hooks_after_reset);
  }
  s->depth++;
  trace_hook(s, hook);
  return s;
}

static void leave(probe_stream* s) {
  if (--s->depth == 0 && s->free_pending) stream_free(s);
}

static ctx make_ctx(probe_stream* s, nv_filter_envoy_ptr fe, stage at, bool has_received) {
  return (ctx){s, s->cfg, fe, at, has_received};
}

/* ---- Program and config hooks ---- */

NV_EXPORT const char* envoy_dynamic_module_on_program_init(void) {
  BUMP(program_init_calls);
  g_init_thread = pthread_self();
  atomic_store(&g_init_thread_set, true);
  /* The version string of the release whose callbacks the host exports (log_v2 is new in v1.40). */
  return HAVE_CALLBACK(log_v2) ? NV_ABI_VERSION_V1_40 : NV_ABI_VERSION_V1_38;
}

static bool valid_token(const char* s, bool allow_dash) {
  for (; *s; s++) {
    if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || (allow_dash && *s == '-'))) {
      return false;
    }
  }
  return true;
}

static bool config_error(const char* field, const char* expected) {
  plog(NV_LOG_ERROR, "probe: invalid filter_config: field \"%s\" %s", field, expected);
  return false;
}

/* Replaces *slot by a copy of the string item; false (after logging) when it is not a valid string. */
static bool take_string(const cJSON* item, char** slot, bool (*valid)(const char*), const char* expected) {
  if (!cJSON_IsString(item) || item->valuestring == NULL || (valid && !valid(item->valuestring))) {
    return config_error(item->string, expected);
  }
  free(*slot);
  *slot = xstrdup(item->valuestring);
  return true;
}

static bool take_bool(const cJSON* item, bool* slot) {
  if (!cJSON_IsBool(item)) return config_error(item->string, "must be a boolean");
  *slot = cJSON_IsTrue(item);
  return true;
}

static bool valid_label(const char* s) { return valid_token(s, true); }
static bool valid_metric_prefix(const char* s) { return *s && valid_token(s, false); }

/* filter_config: empty, or a JSON object with the fields below (unknown fields are rejected). */
static bool parse_probe_config(probe_config* cfg, bool* reject) {
  cfg->label = xstrdup("");
  cfg->actions = xstrdup("");
  cfg->metric_prefix = xstrdup("probe");
  cfg->use_config_scheduler = true;
  cfg->config_scheduler_delay_ms = 10;
  if (cfg->raw_len == 0) return true;
  cJSON* root = cJSON_ParseWithLength(cfg->raw, cfg->raw_len);
  if (root == NULL || !cJSON_IsObject(root)) {
    plog(NV_LOG_ERROR, "probe: invalid filter_config: expected empty or a JSON object, got '%.*s'",
         (int)(cfg->raw_len > 200 ? 200 : cfg->raw_len), cfg->raw);
    cJSON_Delete(root);
    return false;
  }
  bool ok = true;
  const cJSON* f;
  cJSON_ArrayForEach(f, root) {
    const char* k = f->string;
    if (strcmp(k, "label") == 0) {
      ok = take_string(f, &cfg->label, valid_label, "must be a string of [a-z0-9_-]");
    } else if (strcmp(k, "actions") == 0) {
      ok = take_string(f, &cfg->actions, NULL, "must be a string");
    } else if (strcmp(k, "metric_prefix") == 0) {
      ok = take_string(f, &cfg->metric_prefix, valid_metric_prefix, "must be a non-empty string of [a-z0-9_]");
    } else if (strcmp(k, "terminal") == 0) {
      ok = take_bool(f, &cfg->terminal);
    } else if (strcmp(k, "config_scheduler") == 0) {
      ok = take_bool(f, &cfg->use_config_scheduler);
    } else if (strcmp(k, "reject") == 0) {
      ok = take_bool(f, reject);
    } else if (strcmp(k, "config_scheduler_delay_ms") == 0) {
      if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 60000) {
        ok = config_error(k, "must be a number of milliseconds (0..60000)");
      } else {
        cfg->config_scheduler_delay_ms = (uint64_t)f->valuedouble;
      }
    } else {
      ok = config_error(k, "is unknown");
    }
    if (!ok) break;
  }
  cJSON_Delete(root);
  return ok;
}

static void define_metrics(probe_config* cfg) {
  for (int i = 0; i < M_COUNT; i++) {
    char* name = NULL;
    if (asprintf(&name, "%s_%s", cfg->metric_prefix, kMetrics[i].suffix) < 0) abort();
    nv_module_buffer label = kMetrics[i].label ? mbs(kMetrics[i].label) : mb(NULL, 0);
    nv_module_buffer* labels = kMetrics[i].label ? &label : NULL;
    size_t n_labels = kMetrics[i].label ? 1 : 0;
    nv_metrics_result r = NV_METRICS_NOT_FOUND;
    switch (kMetrics[i].kind) {
      case KIND_COUNTER:
        r = envoy_dynamic_module_callback_http_filter_config_define_counter(cfg->ce, mbs(name), labels, n_labels,
                                                                           &cfg->metric_id[i]);
        break;
      case KIND_GAUGE:
        r = envoy_dynamic_module_callback_http_filter_config_define_gauge(cfg->ce, mbs(name), labels, n_labels,
                                                                         &cfg->metric_id[i]);
        break;
      case KIND_HISTOGRAM:
        r = envoy_dynamic_module_callback_http_filter_config_define_histogram(cfg->ce, mbs(name), labels, n_labels,
                                                                             &cfg->metric_id[i]);
        break;
    }
    cfg->metric_define_result[i] = (int)r;
    if (r != NV_METRICS_SUCCESS) plog(NV_LOG_WARN, "probe[%s]: defining metric %s returned %d", cfg->label, name, r);
    free(name);
  }
}

static void* config_commit_thread(void* arg) {
  probe_config* cfg = arg;
  sleep_ms(cfg->config_scheduler_delay_ms);
  envoy_dynamic_module_callback_http_filter_config_scheduler_commit(cfg->config_scheduler, kConfigEventId);
  BUMP(threads_finished);
  return NULL;
}

static void start_config_scheduler(probe_config* cfg) {
  cfg->config_scheduler = envoy_dynamic_module_callback_http_filter_config_scheduler_new(cfg->ce);
  if (cfg->config_scheduler == NULL) {
    plog(NV_LOG_ERROR, "probe[%s]: http_filter_config_scheduler_new returned NULL", cfg->label);
    return;
  }
  BUMP(config_schedulers_created);
  if (pthread_create(&cfg->config_thread, NULL, config_commit_thread, cfg) == 0) {
    cfg->config_thread_started = true;
    BUMP(threads_started);
  }
}

static void config_free(probe_config* cfg) {
  free(cfg->name);
  free(cfg->raw);
  free(cfg->label);
  free(cfg->report_prefix);
  free(cfg->actions);
  free(cfg->metric_prefix);
  free(cfg);
}

NV_EXPORT nv_config_module_ptr envoy_dynamic_module_on_http_filter_config_new(nv_config_envoy_ptr config_envoy,
                                                                              nv_envoy_buffer name,
                                                                              nv_envoy_buffer config) {
  probe_config* cfg = xcalloc(1, sizeof *cfg);
  cfg->ce = config_envoy;
  cfg->main_thread = pthread_self();
  cfg->on_init_thread = atomic_load(&g_init_thread_set) && pthread_equal(g_init_thread, cfg->main_thread);
  cfg->name_len = name.ptr ? name.length : 0;
  cfg->name = xstrndup(name.ptr ? name.ptr : "", cfg->name_len);
  cfg->raw_len = config.ptr ? config.length : 0;
  cfg->raw = xstrndup(config.ptr ? config.ptr : "", cfg->raw_len);
  atomic_init(&cfg->config_counter_result, -1);
  bool reject = false;
  if (!parse_probe_config(cfg, &reject) || reject) {
    if (reject) plog(NV_LOG_ERROR, "probe[%s]: rejecting the filter config (\"reject\": true)", cfg->label);
    BUMP(configs_rejected);
    config_free(cfg);
    return NULL;
  }
  if (asprintf(&cfg->report_prefix, cfg->label[0] ? "x-probe-%s-" : "x-probe-%s", cfg->label) < 0) abort();
  cfg->id = atomic_fetch_add(&g_next_config_id, 1) + 1;
  cfg->concurrency = envoy_dynamic_module_callback_get_concurrency();
  cfg->validation_mode = envoy_dynamic_module_callback_is_validation_mode();
  define_metrics(cfg);
  if (cfg->use_config_scheduler) start_config_scheduler(cfg);
  BUMP(configs_created);
  plog(NV_LOG_INFO, "probe[%s]: config %llu created (filter_name '%s', concurrency %u)", cfg->label,
       (unsigned long long)cfg->id, cfg->name, cfg->concurrency);
  return cfg;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_config_scheduled(nv_config_envoy_ptr config_envoy,
                                                                    nv_config_module_ptr config_module,
                                                                    uint64_t event_id) {
  probe_config* cfg = (probe_config*)config_module;
  BUMP(config_scheduled_calls);
  atomic_fetch_add(&cfg->config_scheduled_calls, 1);
  if (pthread_equal(pthread_self(), cfg->main_thread)) {
    atomic_fetch_add(&cfg->config_scheduled_on_main, 1);
  } else {
    atomic_fetch_add(&cfg->config_scheduled_off_main, 1);
    BUMP(config_scheduled_off_main);
    plog(NV_LOG_ERROR, "probe[%s]: on_http_filter_config_scheduled ran off the main thread", cfg->label);
  }
  atomic_store(&cfg->config_scheduled_event, event_id);
  int r = !HAVE_CALLBACK(http_filter_config_increment_counter) ? -3
          : cfg->metric_define_result[M_CONFIG_EVENTS] == NV_METRICS_SUCCESS
              ? (int)envoy_dynamic_module_callback_http_filter_config_increment_counter(
                    config_envoy, cfg->metric_id[M_CONFIG_EVENTS], NULL, 0, 1)
              : -2;
  atomic_store(&cfg->config_counter_result, r);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_config_destroy(nv_config_module_ptr config_module) {
  probe_config* cfg = (probe_config*)config_module;
  if (!pthread_equal(pthread_self(), cfg->main_thread)) BUMP(config_destroy_off_main);
  if (cfg->config_thread_started) pthread_join(cfg->config_thread, NULL);
  if (cfg->config_scheduler) {
    envoy_dynamic_module_callback_http_filter_config_scheduler_delete(cfg->config_scheduler);
    BUMP(config_schedulers_deleted);
  }
  BUMP(configs_destroyed);
  /* The last config going away may be followed by dlclose: let helper threads leave the module's code. */
  if (atomic_load(&g.configs_destroyed) == atomic_load(&g.configs_created)) {
    uint64_t start = now_ms();
    while (atomic_load(&g_threads_inflight) > 0 && now_ms() - start < LATE_WAIT_LIMIT_MS + 2000) sleep_ms(1);
  }
  config_free(cfg);
}

NV_EXPORT nv_route_config_module_ptr envoy_dynamic_module_on_http_filter_per_route_config_new(nv_envoy_buffer name,
                                                                                              nv_envoy_buffer config) {
  probe_route_config* rc = xcalloc(1, sizeof *rc);
  rc->name_len = name.ptr ? name.length : 0;
  rc->name = xstrndup(name.ptr ? name.ptr : "", rc->name_len);
  rc->raw_len = config.ptr ? config.length : 0;
  rc->raw = xstrndup(config.ptr ? config.ptr : "", rc->raw_len);
  BUMP(route_configs_created);
  return rc;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_per_route_config_destroy(nv_route_config_module_ptr route_config) {
  probe_route_config* rc = (probe_route_config*)route_config;
  free(rc->name);
  free(rc->raw);
  free(rc);
  BUMP(route_configs_destroyed);
}

/* ---- Stream hooks ---- */

NV_EXPORT nv_filter_module_ptr envoy_dynamic_module_on_http_filter_new(nv_config_module_ptr config_module,
                                                                       nv_filter_envoy_ptr filter_envoy) {
  probe_stream* s = xcalloc(1, sizeof *s);
  s->cfg = (probe_config*)config_module;
  s->worker = pthread_self();
  s->serial = atomic_fetch_add(&g_next_stream_serial, 1) + 1;
  s->metric_results[0] = s->metric_results[1] = s->metric_results[2] = -1;
  s->stop_headers = NV_HEADERS_STOP_ITERATION;
  s->stop_body = NV_BODY_STOP_ITERATION_AND_BUFFER;
  BUMP(streams_created);
  return s;
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_request_headers(nv_filter_envoy_ptr filter_envoy,
                                                                                nv_filter_module_ptr filter_module,
                                                                                bool end_of_stream) {
  probe_stream* s = enter(filter_module, "request_headers", false);
  ctx c = make_ctx(s, filter_envoy, ST_REQUEST_HEADERS, false);
  if (!s->started) {
    s->started = true;
    start_stream(&c);
  }
  run_stage(&c, ST_REQUEST_HEADERS);
  flow f = request_flow(&c, end_of_stream, true);
  nv_headers_status waiting = s->stop_headers;
  leave(s);
  return f == FLOW_GO ? NV_HEADERS_CONTINUE : f == FLOW_WAIT ? waiting : NV_HEADERS_STOP_ITERATION;
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_request_body(nv_filter_envoy_ptr filter_envoy,
                                                                          nv_filter_module_ptr filter_module,
                                                                          bool end_of_stream) {
  probe_stream* s = enter(filter_module, "request_body", false);
  ctx c = make_ctx(s, filter_envoy, ST_REQUEST_BODY, true);
  uint64_t size = record_frame(&c, &s->request, &kRequestTypes, end_of_stream);
  if (s->cfg->terminal) s->terminal_request_bytes += size;
  run_stage(&c, ST_REQUEST_BODY);
  flow f = request_flow(&c, end_of_stream, false);
  /* A terminal probe consumes the body; it only keeps it when an action needs the whole of it. */
  bool keep = !(s->cfg->terminal && !s->request.hold);
  nv_body_status waiting = s->stop_body;
  leave(s);
  if (f == FLOW_GO) return NV_BODY_CONTINUE;
  return f == FLOW_WAIT && keep ? waiting : NV_BODY_STOP_ITERATION_NO_BUFFER;
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_request_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                                  nv_filter_module_ptr filter_module) {
  probe_stream* s = enter(filter_module, "request_trailers", false);
  ctx c = make_ctx(s, filter_envoy, ST_REQUEST_TRAILERS, false);
  run_stage(&c, ST_REQUEST_TRAILERS);
  flow f = request_flow(&c, true, false);
  leave(s);
  return f == FLOW_GO ? NV_TRAILERS_CONTINUE : NV_TRAILERS_STOP_ITERATION;
}

/* Response hooks must never run for a response the probe produced itself. */
static bool own_response_check(probe_stream* s, const char* hook) {
  if (!s->own_response) return false;
  BUMP(own_reply_response_hooks);
  plog(NV_LOG_ERROR, "probe[%s]: %s called for the probe's own reply on stream %u", s->cfg->label, hook, s->serial);
  return true;
}

NV_EXPORT nv_headers_status envoy_dynamic_module_on_http_filter_response_headers(nv_filter_envoy_ptr filter_envoy,
                                                                                 nv_filter_module_ptr filter_module,
                                                                                 bool end_of_stream) {
  probe_stream* s = enter(filter_module, "response_headers", false);
  flow f = FLOW_GO;
  if (!own_response_check(s, "response_headers")) {
    ctx c = make_ctx(s, filter_envoy, ST_RESPONSE_HEADERS, false);
    run_stage(&c, ST_RESPONSE_HEADERS);
    f = response_flow(&c, end_of_stream, true);
  }
  nv_headers_status waiting = s->stop_headers;
  leave(s);
  return f == FLOW_GO ? NV_HEADERS_CONTINUE : f == FLOW_WAIT ? waiting : NV_HEADERS_STOP_ITERATION;
}

NV_EXPORT nv_body_status envoy_dynamic_module_on_http_filter_response_body(nv_filter_envoy_ptr filter_envoy,
                                                                           nv_filter_module_ptr filter_module,
                                                                           bool end_of_stream) {
  probe_stream* s = enter(filter_module, "response_body", false);
  flow f = FLOW_GO;
  if (!own_response_check(s, "response_body")) {
    ctx c = make_ctx(s, filter_envoy, ST_RESPONSE_BODY, true);
    record_frame(&c, &s->response, &kResponseTypes, end_of_stream);
    run_stage(&c, ST_RESPONSE_BODY);
    f = response_flow(&c, end_of_stream, false);
  }
  nv_body_status waiting = s->stop_body;
  leave(s);
  if (f == FLOW_GO) return NV_BODY_CONTINUE;
  return f == FLOW_WAIT ? waiting : NV_BODY_STOP_ITERATION_NO_BUFFER;
}

NV_EXPORT nv_trailers_status envoy_dynamic_module_on_http_filter_response_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                                   nv_filter_module_ptr filter_module) {
  probe_stream* s = enter(filter_module, "response_trailers", false);
  flow f = FLOW_GO;
  if (!own_response_check(s, "response_trailers")) {
    ctx c = make_ctx(s, filter_envoy, ST_RESPONSE_TRAILERS, false);
    run_stage(&c, ST_RESPONSE_TRAILERS);
    f = response_flow(&c, true, false);
  }
  leave(s);
  return f == FLOW_GO ? NV_TRAILERS_CONTINUE : NV_TRAILERS_STOP_ITERATION;
}

NV_EXPORT nv_local_reply_status envoy_dynamic_module_on_http_filter_local_reply(nv_filter_envoy_ptr filter_envoy,
                                                                                nv_filter_module_ptr filter_module,
                                                                                uint32_t response_code,
                                                                                nv_envoy_buffer details,
                                                                                bool reset_imminent) {
  probe_stream* s = enter(filter_module, "local_reply", true);
  BUMP(local_reply_calls);
  size_t n = details.ptr ? details.length : 0;
  pthread_mutex_lock(&g_last_reply_mutex);
  g_last_reply.seen = true;
  g_last_reply.code = response_code;
  g_last_reply.details_null = details.ptr == NULL;
  size_t kept = n < sizeof g_last_reply.details - 1 ? n : sizeof g_last_reply.details - 1;
  if (kept) memcpy(g_last_reply.details, details.ptr, kept);
  g_last_reply.details[kept] = '\0';
  g_last_reply.reset_imminent = reset_imminent;
  pthread_mutex_unlock(&g_last_reply_mutex);
  s->local_reply_count++;
  s->local_reply_code = response_code;
  free(s->local_reply_details);
  s->local_reply_details = details.ptr ? xstrndup(details.ptr, n) : NULL;
  s->local_reply_reset_imminent = reset_imminent;
  plog(NV_LOG_INFO, "probe[%s]: on_local_reply stream=%u code=%u details='%.*s' reset_imminent=%s", s->cfg->label,
       s->serial, response_code, (int)n, details.ptr ? details.ptr : "", bool_str(reset_imminent));
  nv_local_reply_status r = s->local_reply_reset ? NV_LOCAL_REPLY_CONTINUE_AND_RESET_STREAM : NV_LOCAL_REPLY_CONTINUE;
  leave(s);
  return r;
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                                   nv_filter_module_ptr filter_module) {
  probe_stream* s = enter(filter_module, "stream_complete", true);
  BUMP(stream_complete_calls);
  s->completed = true;
  if (s->inflight_counted) {
    s->inflight_counted = false;
    envoy_dynamic_module_callback_http_filter_decrement_gauge(filter_envoy, s->cfg->metric_id[M_INFLIGHT], NULL, 0, 1);
  }
  leave(s);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_destroy(nv_filter_module_ptr filter_module) {
  probe_stream* s = (probe_stream*)filter_module;
  if (!pthread_equal(pthread_self(), s->worker)) {
    BUMP(wrong_thread_calls);
    plog(NV_LOG_ERROR, "probe[%s]: destroy for stream %u ran off its worker thread", s->cfg->label, s->serial);
  }
  BUMP(streams_destroyed);
  if (s->completed) {
    BUMP(complete_before_destroy);
    atomic_store(&g_last_complete_before_destroy, 1);
  } else {
    BUMP(destroy_without_complete);
    atomic_store(&g_last_complete_before_destroy, 0);
  }
  s->destroyed = true;
  if (s->async) {
    registry_remove(s);
    atomic_store(&s->async->stream_gone, true);
    async_release(s->async); /* deletes the scheduler unless a helper thread still holds it */
    s->async = NULL;
  }
  if (s->depth > 0) {
    /* The host destroyed the stream while one of its hooks is still running: a violation. Free the object
     * when that hook returns instead, so the probe itself stays memory-safe. */
    BUMP(destroy_inside_hook);
    plog(NV_LOG_ERROR, "probe[%s]: on_http_filter_destroy for stream %u ran inside another hook of it",
         s->cfg->label, s->serial);
    s->free_pending = true;
    return;
  }
  stream_free(s);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_scheduled(nv_filter_envoy_ptr filter_envoy,
                                                             nv_filter_module_ptr filter_module, uint64_t event_id) {
  BUMP(scheduled_calls);
  unsigned kind = (unsigned)(event_id >> 56);
  size_t seq = (size_t)((event_id >> 32) & 0xffffffu);
  uint32_t serial = (uint32_t)event_id;
  if (kind == EV_LATE) {
    /* Committed after the stream was destroyed: the host had to drop it. Do not touch filter_module. */
    BUMP(late_events_delivered);
    plog(NV_LOG_ERROR, "probe: a commit made after stream %u was destroyed was delivered", serial);
    return;
  }
  probe_stream* s = registry_find(serial);
  if (s == NULL || (const void*)s != filter_module) {
    BUMP(scheduled_for_dead_stream);
    plog(NV_LOG_ERROR, "probe: on_http_filter_scheduled for stream %u, which is gone", serial);
    return;
  }
  s = enter(filter_module, "scheduled", false);
  ctx c = make_ctx(s, filter_envoy, ST_NONE, false);
  switch (kind) {
    case EV_RESUME_DECODE:
      resume(&c, true);
      break;
    case EV_RESUME_ENCODE:
      resume(&c, false);
      break;
    case EV_STREAM_PIECE:
      stream_piece(&c, seq);
      break;
    default:
      plog(NV_LOG_WARN, "probe[%s]: unknown scheduled event %llx", s->cfg->label, (unsigned long long)event_id);
  }
  leave(s);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {
  probe_stream* s = enter(filter_module, "watermark_above", false);
  BUMP(watermark_above_calls);
  leave(s);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    nv_filter_envoy_ptr filter_envoy, nv_filter_module_ptr filter_module) {
  probe_stream* s = enter(filter_module, "watermark_below", false);
  BUMP(watermark_below_calls);
  leave(s);
}

/* ---- Callout hooks: the probe never starts a callout, so any call is unexpected ---- */

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(nv_filter_envoy_ptr filter_envoy,
                                                                     nv_filter_module_ptr filter_module,
                                                                     uint64_t callout_id, nv_http_callout_result result,
                                                                     nv_envoy_header* headers, size_t headers_size,
                                                                     nv_envoy_buffer* body_chunks,
                                                                     size_t body_chunks_size) {
  BUMP(unexpected_hook_calls);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(nv_filter_envoy_ptr filter_envoy,
                                                                       nv_filter_module_ptr filter_module,
                                                                       uint64_t stream_id, nv_envoy_header* headers,
                                                                       size_t headers_size, bool end_stream) {
  BUMP(unexpected_hook_calls);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(nv_filter_envoy_ptr filter_envoy,
                                                                    nv_filter_module_ptr filter_module,
                                                                    uint64_t stream_id, const nv_envoy_buffer* data,
                                                                    size_t data_count, bool end_stream) {
  BUMP(unexpected_hook_calls);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(nv_filter_envoy_ptr filter_envoy,
                                                                        nv_filter_module_ptr filter_module,
                                                                        uint64_t stream_id, nv_envoy_header* trailers,
                                                                        size_t trailers_size) {
  BUMP(unexpected_hook_calls);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(nv_filter_envoy_ptr filter_envoy,
                                                                        nv_filter_module_ptr filter_module,
                                                                        uint64_t stream_id) {
  BUMP(unexpected_hook_calls);
}

NV_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(nv_filter_envoy_ptr filter_envoy,
                                                                     nv_filter_module_ptr filter_module,
                                                                     uint64_t stream_id,
                                                                     nv_http_stream_reset_reason reason) {
  BUMP(unexpected_hook_calls);
}
