// Measures libnodevoy's C++ -> JS hook crossing in isolation: this program plays Envoy (it exports
// the callbacks libnodevoy resolves), loads the module, creates a filter config from a bundle, and
// times on_http_filter_request_headers on one thread. Usage:
//   hook_crossing <path/to/libnodevoy.so> <bundle.js> <filter name> [iterations]
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
constexpr size_t kCount = sizeof(kRequestHeaders) / sizeof(kRequestHeaders[0]);
int g_replies = 0;
}  // namespace

EXPORT bool envoy_dynamic_module_callback_http_get_header(nv_filter_envoy_ptr, nv_header_type, nv_module_buffer key,
                                                          nv_envoy_buffer* out, size_t index, size_t* count) noexcept {
  for (const auto& h : kRequestHeaders) {
    if (strlen(h.key) == key.length && memcmp(h.key, key.ptr, key.length) == 0 && index == 0) {
      *out = {h.value, strlen(h.value)};
      if (count) *count = 1;
      return true;
    }
  }
  *out = {nullptr, 0};
  if (count) *count = 0;
  return false;
}
EXPORT size_t envoy_dynamic_module_callback_http_get_headers_size(nv_filter_envoy_ptr, nv_header_type) noexcept {
  return kCount;
}
EXPORT bool envoy_dynamic_module_callback_http_get_headers(nv_filter_envoy_ptr, nv_header_type, nv_envoy_header* out) noexcept {
  for (size_t i = 0; i < kCount; i++) {
    out[i] = {kRequestHeaders[i].key, strlen(kRequestHeaders[i].key), kRequestHeaders[i].value, strlen(kRequestHeaders[i].value)};
  }
  return true;
}
EXPORT bool envoy_dynamic_module_callback_http_set_header(nv_filter_envoy_ptr, nv_header_type, nv_module_buffer,
                                                          nv_module_buffer) noexcept { return true; }
EXPORT bool envoy_dynamic_module_callback_http_add_header(nv_filter_envoy_ptr, nv_header_type, nv_module_buffer,
                                                          nv_module_buffer) noexcept { return true; }
EXPORT size_t envoy_dynamic_module_callback_http_get_body_size(nv_filter_envoy_ptr, nv_body_type) noexcept { return 0; }
EXPORT size_t envoy_dynamic_module_callback_http_get_body_chunks_size(nv_filter_envoy_ptr, nv_body_type) noexcept { return 0; }
EXPORT bool envoy_dynamic_module_callback_http_get_body_chunks(nv_filter_envoy_ptr, nv_body_type, nv_envoy_buffer*) noexcept {
  return true;
}
EXPORT bool envoy_dynamic_module_callback_http_append_body(nv_filter_envoy_ptr, nv_body_type, nv_module_buffer) noexcept {
  return true;
}
EXPORT bool envoy_dynamic_module_callback_http_drain_body(nv_filter_envoy_ptr, nv_body_type, size_t) noexcept { return true; }
EXPORT void envoy_dynamic_module_callback_http_send_response(nv_filter_envoy_ptr, uint32_t, nv_module_header*, size_t,
                                                             nv_module_buffer, nv_module_buffer) noexcept { g_replies++; }
EXPORT void envoy_dynamic_module_callback_http_filter_continue_decoding(nv_filter_envoy_ptr) noexcept {}
EXPORT void envoy_dynamic_module_callback_http_filter_continue_encoding(nv_filter_envoy_ptr) noexcept {}
EXPORT nv_scheduler_ptr envoy_dynamic_module_callback_http_filter_scheduler_new(nv_filter_envoy_ptr) noexcept { return nullptr; }
EXPORT void envoy_dynamic_module_callback_http_filter_scheduler_commit(nv_scheduler_ptr, uint64_t) noexcept {}
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

template <class F>
F sym(void* handle, const char* name) {
  void* p = dlsym(handle, name);
  if (!p) {
    fprintf(stderr, "missing %s\n", name);
    exit(1);
  }
  return reinterpret_cast<F>(p);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <libnodevoy.so> <bundle.js> <filter> [iterations]\n", argv[0]);
    return 2;
  }
  const long iterations = argc > 4 ? atol(argv[4]) : 1000000;
  void* module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto init = sym<const char* (*)()>(module, "envoy_dynamic_module_on_program_init");
  auto config_new = sym<decltype(&envoy_dynamic_module_on_http_filter_config_new)>(module, "envoy_dynamic_module_on_http_filter_config_new");
  auto filter_new = sym<decltype(&envoy_dynamic_module_on_http_filter_new)>(module, "envoy_dynamic_module_on_http_filter_new");
  auto request_headers = sym<decltype(&envoy_dynamic_module_on_http_filter_request_headers)>(module, "envoy_dynamic_module_on_http_filter_request_headers");
  auto destroy = sym<decltype(&envoy_dynamic_module_on_http_filter_destroy)>(module, "envoy_dynamic_module_on_http_filter_destroy");
  auto request_body = sym<decltype(&envoy_dynamic_module_on_http_filter_request_body)>(module, "envoy_dynamic_module_on_http_filter_request_body");
  if (!init()) return 1;
  std::string config = std::string("{\"bundle\":\"") + argv[2] + "\",\"filter\":\"" + argv[3] +
                       "\",\"config\":{\"username\":\"alice\",\"password\":\"wonderland\"}}";
  int ce = 0;
  auto cm = config_new(&ce, {argv[3], strlen(argv[3])}, {config.data(), config.size()});
  if (!cm) return 1;
  int fe = 0;
  // One stream kept alive: the worker keeps the isolate, as under load.
  auto keep = filter_new(cm, &fe);
  auto run = [&](bool fresh_stream) {
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; i++) {
      if (fresh_stream) {
        auto fm = filter_new(cm, &fe);
        request_headers(&fe, fm, true);
        destroy(fm);
      } else {
        request_headers(&fe, keep, true);
      }
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / iterations;
  };
  run(false);  // warm up the JIT
  double same_stream = run(false);
  double per_stream = run(true);
  // A body frame through a filter that never reads bodies: no crossing, native only.
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; i++) request_body(&fe, keep, false);
  double body_frame = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / iterations;
  printf("filter %s: request_headers hook %.0f ns (same stream), new stream + hook + destroy %.0f ns, unread body frame %.1f ns; replies %d\n",
         argv[3], same_stream, per_stream, body_frame, g_replies);
  destroy(keep);
  return 0;
}
