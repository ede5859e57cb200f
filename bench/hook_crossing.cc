// Measures libnodevoy's crossings in isolation: this program plays Envoy (it exports the callbacks
// libnodevoy resolves, with a fixed request of 9 headers and an optional body), loads the module,
// creates a filter config from a bundle, and times hooks on one thread. It also counts the bytes it
// hands to the module through the header and body callbacks (what the module can copy into JS).
//
//   hook_crossing --module <libnodevoy.so> --bundle <bundle.js> --filter <name> [--config <json>]
//                 [--mode same-stream|stream] [--body <bytes>] [--iterations N] [--keep] [--json]
//
// same-stream: on_http_filter_request_headers again and again on one live stream (the hook call).
// stream:      a whole stream per iteration: filter_new, request headers, the body (if any), response
//              headers, stream_complete, destroy; scheduler events are delivered after each hook, as
//              Envoy's dispatcher would. Between streams no stream is live (as on a worker serving one
//              request at a time), unless --keep holds one more stream open throughout.
#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nodevoy_envoy_abi.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {
struct Header {
  const char* key;
  const char* value;
};
const Header kRequestHeaders[] = {
    {":authority", "example.com"}, {":path", "/hello"}, {":method", "GET"}, {":scheme", "http"},
    {"user-agent", "bench"},       {"accept", "*/*"},   {"authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="},
    {"x-request-id", "0b8a4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}, {"x-forwarded-proto", "http"},
};
constexpr size_t kRequestCount = sizeof(kRequestHeaders) / sizeof(kRequestHeaders[0]);
const Header kResponseHeaders[] = {{":status", "200"}, {"content-length", "2"}, {"content-type", "text/plain"}};
constexpr size_t kResponseCount = sizeof(kResponseHeaders) / sizeof(kResponseHeaders[0]);

// The one stream in flight (its address is the filter_envoy pointer).
struct FakeStream {
  bool in_request_body = false;  // inside on_http_filter_request_body: the received frame exists
  std::vector<uint64_t> events;  // committed scheduler events, delivered after the hook returns
};
std::string g_body;  // the request body's bytes (one frame)
uint64_t g_bytes_handed = 0;
uint64_t g_replies = 0;

const Header* table(nv_header_type type, size_t* count) {
  if (type == NV_HEADER_REQUEST) {
    *count = kRequestCount;
    return kRequestHeaders;
  }
  if (type == NV_HEADER_RESPONSE) {
    *count = kResponseCount;
    return kResponseHeaders;
  }
  *count = 0;
  return nullptr;
}

FakeStream* fake(nv_filter_envoy_ptr fe) { return static_cast<FakeStream*>(fe); }
bool isReceivedRequest(nv_filter_envoy_ptr fe, nv_body_type type) {
  return type == NV_BODY_RECEIVED_REQUEST && fake(fe)->in_request_body && !g_body.empty();
}
}  // namespace

EXPORT bool envoy_dynamic_module_callback_http_get_header(nv_filter_envoy_ptr, nv_header_type type, nv_module_buffer key,
                                                          nv_envoy_buffer* out, size_t index, size_t* count) noexcept {
  size_t n;
  const Header* headers = table(type, &n);
  for (size_t i = 0; i < n; i++) {
    if (strlen(headers[i].key) == key.length && memcmp(headers[i].key, key.ptr, key.length) == 0 && index == 0) {
      *out = {headers[i].value, strlen(headers[i].value)};
      g_bytes_handed += out->length;
      if (count) *count = 1;
      return true;
    }
  }
  *out = {nullptr, 0};
  if (count) *count = 0;
  return false;
}
EXPORT size_t envoy_dynamic_module_callback_http_get_headers_size(nv_filter_envoy_ptr, nv_header_type type) noexcept {
  size_t n;
  table(type, &n);
  return n;
}
EXPORT bool envoy_dynamic_module_callback_http_get_headers(nv_filter_envoy_ptr, nv_header_type type, nv_envoy_header* out) noexcept {
  size_t n;
  const Header* headers = table(type, &n);
  for (size_t i = 0; i < n; i++) {
    out[i] = {headers[i].key, strlen(headers[i].key), headers[i].value, strlen(headers[i].value)};
    g_bytes_handed += out[i].key_length + out[i].value_length;
  }
  return true;
}
EXPORT bool envoy_dynamic_module_callback_http_set_header(nv_filter_envoy_ptr, nv_header_type, nv_module_buffer,
                                                          nv_module_buffer) noexcept { return true; }
EXPORT bool envoy_dynamic_module_callback_http_add_header(nv_filter_envoy_ptr, nv_header_type, nv_module_buffer,
                                                          nv_module_buffer) noexcept { return true; }
EXPORT size_t envoy_dynamic_module_callback_http_get_body_size(nv_filter_envoy_ptr fe, nv_body_type type) noexcept {
  return isReceivedRequest(fe, type) ? g_body.size() : 0;
}
EXPORT size_t envoy_dynamic_module_callback_http_get_body_chunks_size(nv_filter_envoy_ptr fe, nv_body_type type) noexcept {
  return isReceivedRequest(fe, type) ? 1 : 0;
}
EXPORT bool envoy_dynamic_module_callback_http_get_body_chunks(nv_filter_envoy_ptr fe, nv_body_type type,
                                                               nv_envoy_buffer* out) noexcept {
  if (!isReceivedRequest(fe, type)) return true;
  out[0] = {g_body.data(), g_body.size()};
  g_bytes_handed += g_body.size();
  return true;
}
EXPORT bool envoy_dynamic_module_callback_http_received_buffered_request_body(nv_filter_envoy_ptr) noexcept { return false; }
EXPORT bool envoy_dynamic_module_callback_http_received_buffered_response_body(nv_filter_envoy_ptr) noexcept { return false; }
EXPORT bool envoy_dynamic_module_callback_http_append_body(nv_filter_envoy_ptr, nv_body_type, nv_module_buffer) noexcept {
  return true;
}
EXPORT bool envoy_dynamic_module_callback_http_drain_body(nv_filter_envoy_ptr, nv_body_type, size_t) noexcept { return true; }
EXPORT void envoy_dynamic_module_callback_http_send_response(nv_filter_envoy_ptr, uint32_t, nv_module_header*, size_t,
                                                             nv_module_buffer, nv_module_buffer) noexcept { g_replies++; }
EXPORT void envoy_dynamic_module_callback_http_filter_continue_decoding(nv_filter_envoy_ptr) noexcept {}
EXPORT void envoy_dynamic_module_callback_http_filter_continue_encoding(nv_filter_envoy_ptr) noexcept {}
EXPORT nv_scheduler_ptr envoy_dynamic_module_callback_http_filter_scheduler_new(nv_filter_envoy_ptr fe) noexcept { return fe; }
EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_commit(nv_scheduler_ptr scheduler, uint64_t event) noexcept {
  static_cast<FakeStream*>(scheduler)->events.push_back(event);
}
EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_delete(nv_scheduler_ptr) noexcept {}
EXPORT void envoy_dynamic_module_callback_log(nv_log_level, nv_module_buffer message) noexcept {
  fprintf(stderr, "%.*s\n", static_cast<int>(message.length), message.ptr);
}
EXPORT bool envoy_dynamic_module_callback_log_enabled(nv_log_level level) noexcept { return level >= NV_LOG_INFO; }
EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_config_define_counter(nv_config_envoy_ptr, nv_module_buffer,
                                                                                         nv_module_buffer*, size_t,
                                                                                         size_t* id) noexcept {
  *id = 1;
  return NV_METRICS_SUCCESS;
}
EXPORT nv_metrics_result envoy_dynamic_module_callback_http_filter_increment_counter(nv_filter_envoy_ptr, size_t,
                                                                                     nv_module_buffer*, size_t, uint64_t) noexcept {
  return NV_METRICS_SUCCESS;
}
EXPORT uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(nv_filter_envoy_ptr) noexcept { return 0; }
EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_string(nv_filter_envoy_ptr, nv_attribute_id,
                                                                           nv_envoy_buffer*) noexcept { return false; }
EXPORT bool envoy_dynamic_module_callback_http_filter_get_attribute_int(nv_filter_envoy_ptr, nv_attribute_id, uint64_t*) noexcept {
  return false;
}
EXPORT uint32_t envoy_dynamic_module_callback_get_concurrency() noexcept { return 1; }
EXPORT void envoy_dynamic_module_callback_http_filter_reset_stream(nv_filter_envoy_ptr, nv_http_filter_stream_reset_reason,
                                                                   nv_module_buffer) noexcept {}

namespace {

template <class F>
F sym(void* handle, const char* name) {
  void* p = dlsym(handle, name);
  if (!p) {
    fprintf(stderr, "missing %s\n", name);
    exit(1);
  }
  return reinterpret_cast<F>(p);
}

struct Hooks {
  const char* (*init)();
  decltype(&envoy_dynamic_module_on_http_filter_config_new) config_new;
  decltype(&envoy_dynamic_module_on_http_filter_new) filter_new;
  decltype(&envoy_dynamic_module_on_http_filter_request_headers) request_headers;
  decltype(&envoy_dynamic_module_on_http_filter_request_body) request_body;
  decltype(&envoy_dynamic_module_on_http_filter_response_headers) response_headers;
  decltype(&envoy_dynamic_module_on_http_filter_stream_complete) stream_complete;
  decltype(&envoy_dynamic_module_on_http_filter_destroy) destroy;
  decltype(&envoy_dynamic_module_on_http_filter_scheduled) scheduled;
};

// Envoy's dispatcher: events committed during a hook run after it, on the same thread.
void deliverEvents(const Hooks& hooks, FakeStream& stream, nv_filter_module_ptr fm) {
  while (!stream.events.empty()) {
    std::vector<uint64_t> events;
    events.swap(stream.events);
    for (uint64_t event : events) hooks.scheduled(&stream, fm, event);
  }
}

const char* arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const char* module_path = arg(argc, argv, "--module", nullptr);
  const char* bundle = arg(argc, argv, "--bundle", nullptr);
  const char* filter = arg(argc, argv, "--filter", nullptr);
  if (module_path == nullptr || bundle == nullptr || filter == nullptr) {
    fprintf(stderr,
            "usage: %s --module <libnodevoy.so> --bundle <bundle.js> --filter <name> [--config <json>] "
            "[--mode same-stream|stream] [--body <bytes>] [--iterations N] [--keep] [--json]\n",
            argv[0]);
    return 2;
  }
  const char* filter_config = arg(argc, argv, "--config", "{\"username\":\"alice\",\"password\":\"wonderland\"}");
  const std::string mode = arg(argc, argv, "--mode", "stream");
  const long iterations = atol(arg(argc, argv, "--iterations", "200000"));
  const size_t body_bytes = static_cast<size_t>(atol(arg(argc, argv, "--body", "0")));
  bool json = false, keep_one = mode == "same-stream";
  for (int i = 1; i < argc; i++) {
    json = json || strcmp(argv[i], "--json") == 0;
    keep_one = keep_one || strcmp(argv[i], "--keep") == 0;
  }
  g_body.assign(body_bytes, 'b');

  void* module = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  Hooks hooks{};
  hooks.init = sym<const char* (*)()>(module, "envoy_dynamic_module_on_program_init");
  hooks.config_new = sym<decltype(hooks.config_new)>(module, "envoy_dynamic_module_on_http_filter_config_new");
  hooks.filter_new = sym<decltype(hooks.filter_new)>(module, "envoy_dynamic_module_on_http_filter_new");
  hooks.request_headers = sym<decltype(hooks.request_headers)>(module, "envoy_dynamic_module_on_http_filter_request_headers");
  hooks.request_body = sym<decltype(hooks.request_body)>(module, "envoy_dynamic_module_on_http_filter_request_body");
  hooks.response_headers = sym<decltype(hooks.response_headers)>(module, "envoy_dynamic_module_on_http_filter_response_headers");
  hooks.stream_complete = sym<decltype(hooks.stream_complete)>(module, "envoy_dynamic_module_on_http_filter_stream_complete");
  hooks.destroy = sym<decltype(hooks.destroy)>(module, "envoy_dynamic_module_on_http_filter_destroy");
  hooks.scheduled = sym<decltype(hooks.scheduled)>(module, "envoy_dynamic_module_on_http_filter_scheduled");
  if (!hooks.init()) return 1;
  std::string config = std::string("{\"bundle\":\"") + bundle + "\",\"filter\":\"" + filter + "\",\"config\":" + filter_config + "}";
  int config_envoy = 0;
  auto cm = hooks.config_new(&config_envoy, {filter, strlen(filter)}, {config.data(), config.size()});
  if (!cm) return 1;

  // same-stream (and --keep): one stream kept alive throughout.
  FakeStream keep_stream;
  nv_filter_module_ptr keep = keep_one ? hooks.filter_new(cm, &keep_stream) : nullptr;
  FakeStream stream;
  auto one_stream = [&] {
    auto fm = hooks.filter_new(cm, &stream);
    const bool has_body = !g_body.empty();
    hooks.request_headers(&stream, fm, !has_body);
    deliverEvents(hooks, stream, fm);
    if (has_body) {
      stream.in_request_body = true;
      hooks.request_body(&stream, fm, true);
      stream.in_request_body = false;
      deliverEvents(hooks, stream, fm);
    }
    hooks.response_headers(&stream, fm, false);
    deliverEvents(hooks, stream, fm);
    hooks.stream_complete(&stream, fm);
    hooks.destroy(fm);
    stream.events.clear();
  };
  auto run = [&](long n) {
    const uint64_t bytes_before = g_bytes_handed;
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < n; i++) {
      if (mode == "same-stream") {
        hooks.request_headers(&keep_stream, keep, true);
      } else {
        one_stream();
      }
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / n;
    return std::make_pair(ns, static_cast<double>(g_bytes_handed - bytes_before) / n);
  };
  run(iterations / 4 + 1);  // warm up the JIT
  auto [ns, bytes] = run(iterations);
  if (json) {
    printf("{\"filter\":\"%s\",\"mode\":\"%s\",\"ns\":%.1f,\"bytes\":%.0f,\"replies\":%llu}\n", filter, mode.c_str(), ns, bytes,
           static_cast<unsigned long long>(g_replies));
  } else {
    printf("filter %s, %s: %.0f ns per %s; %.0f bytes handed to the module per iteration; %llu local replies\n", filter,
           mode.c_str(), ns, mode == "same-stream" ? "request-headers hook" : "stream", bytes,
           static_cast<unsigned long long>(g_replies));
  }
  if (keep != nullptr) hooks.destroy(keep);
  return 0;
}
