#include "header_map.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <set>

namespace devhost {

namespace {

// Envoy's statically registered inline headers per map type (envoy/http/header_map.h: the
// INLINE_REQ_*, INLINE_REQ_RESP_*, INLINE_RESP_* and INLINE_RESP_HEADERS_TRAILERS lists;
// header_map_impl.cc registers each list for its map types). Names from source/common/http/headers.h.
const char* const kRequestResponseInline[] = {
    "connection", "content-type", "x-envoy-decorator-operation", "keep-alive", "proxy-connection", "proxy-status",
    "x-request-id", "transfer-encoding", "upgrade", "via", "content-length", "x-envoy-attempt-count",
};
const char* const kRequestInline[] = {
    "x-client-trace-id", "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node",
    "x-envoy-external-address", "x-envoy-force-trace", "x-envoy-hedge-on-per-try-timeout", "x-envoy-internal",
    "x-envoy-ip-tags", "x-envoy-retry-on", "x-envoy-retry-grpc-on", "x-envoy-retriable-status-codes",
    "x-envoy-retriable-header-names", "x-envoy-original-path", "x-envoy-original-url",
    "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-alt-response", "expect",
    "x-forwarded-client-cert", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "grpc-timeout",
    ":authority", ":method", ":path", ":protocol", ":scheme", "te", "user-agent",
    "x-envoy-expected-rq-timeout-ms", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms",
    "x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-stream-duration-ms",
};
const char* const kResponseInline[] = {
    "date", "x-envoy-degraded", "x-envoy-immediate-health-check-fail", "x-envoy-ratelimited",
    "x-envoy-upstream-canary", "x-envoy-upstream-healthchecked-cluster", "location", "server",
    "x-envoy-upstream-service-time", ":status",
};
const char* const kResponseAndTrailersInline[] = {"grpc-status", "grpc-message"};

struct InlineRegistry {
  std::array<std::set<std::string, std::less<>>, 4> names;
  std::atomic<bool> frozen{false};

  InlineRegistry() {
    auto& request = names[int(HeaderMap::Kind::RequestHeaders)];
    auto& response = names[int(HeaderMap::Kind::ResponseHeaders)];
    auto& response_trailers = names[int(HeaderMap::Kind::ResponseTrailers)];
    for (const char* n : kRequestInline) request.insert(n);
    for (const char* n : kRequestResponseInline) {
      request.insert(n);
      response.insert(n);
    }
    for (const char* n : kResponseInline) response.insert(n);
    for (const char* n : kResponseAndTrailersInline) {
      response.insert(n);
      response_trailers.insert(n);
    }
  }
};

InlineRegistry& registry() {
  static InlineRegistry* r = new InlineRegistry();  // read by workers until exit
  return *r;
}

// Envoy's delimiterByHeader: cookie values are joined with "; ", every other inline header with ",".
std::string_view delimiterFor(std::string_view key) { return key == "cookie" ? "; " : ","; }

// ASCII only, inline (std::tolower is a locale-aware libc call per byte: a tenth of the dev host's
// instructions per request went to it). Header names are ASCII tokens; other bytes stay as they are.
inline char lowerByte(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// Stored keys are lower-case; the probe key may not be.
bool keyEquals(const std::string& stored, std::string_view key) {
  return stored.size() == key.size() &&
         std::equal(stored.begin(), stored.end(), key.begin(), [](char a, char b) { return a == lowerByte(b); });
}

}  // namespace

bool HeaderMap::registerInlineHeader(Kind kind, std::string_view name) {
  if (registry().frozen.load()) return false;
  registry().names[int(kind)].insert(lower(name));
  return true;
}

void HeaderMap::freezeInlineHeaders() { registry().frozen.store(true); }

bool HeaderMap::isInline(Kind kind, std::string_view lower_key) {
  const auto& set = registry().names[int(kind)];
  return set.find(lower_key) != set.end();
}

std::string HeaderMap::lower(std::string_view key) {
  std::string out(key);  // one copy; names arrive lower-case nearly always, and then nothing else is done
  for (size_t i = 0; i < out.size(); i++) {
    if (out[i] >= 'A' && out[i] <= 'Z') {
      for (; i < out.size(); i++) out[i] = lowerByte(out[i]);
      break;
    }
  }
  return out;
}

std::string HeaderMap::storedKey(std::string_view key) const {
  std::string k = lower(key);
  if (kind_ == Kind::RequestHeaders && k == "host") return ":authority";  // Envoy's HostLegacy lookup
  return k;
}

void HeaderMap::add(std::string_view key, std::string_view value) {
  std::string k = storedKey(key);
  if (isInline(kind_, k)) {
    for (auto& e : entries_) {
      if (e.key != k) continue;
      if (value.empty()) return;
      if (!e.value.empty()) e.value += delimiterFor(k);
      e.value += value;
      return;
    }
  }
  if (!k.empty() && k[0] == ':') {
    // Pseudo-headers stay ahead of regular headers, as in Envoy's header maps.
    auto it = std::find_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.key.empty() || e.key[0] != ':'; });
    entries_.insert(it, Entry{std::move(k), std::string(value)});
    return;
  }
  entries_.push_back(Entry{std::move(k), std::string(value)});
}

void HeaderMap::set(std::string_view key, std::string_view value) {
  // Envoy's HeaderMapImpl::setCopy: remove every value of the key, then add the new one, so the
  // header moves to the end of the map (of the pseudo-header block for a pseudo-header).
  std::string k = storedKey(key);
  std::string v(value);  // value may point into an entry that remove() frees
  remove(k);
  add(k, v);
}

size_t HeaderMap::remove(std::string_view key) {
  std::string k = storedKey(key);
  size_t before = entries_.size();
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == k; }),
                 entries_.end());
  return before - entries_.size();
}

const std::string* HeaderMap::get(std::string_view key, size_t index) const {
  const bool host_alias = kind_ == Kind::RequestHeaders && key.size() == 4 && keyEquals("host", key);
  if (host_alias) key = ":authority";
  for (const auto& e : entries_) {
    if (keyEquals(e.key, key)) {
      if (index == 0) return &e.value;
      index--;
    }
  }
  return nullptr;
}

size_t HeaderMap::count(std::string_view key) const {
  if (kind_ == Kind::RequestHeaders && key.size() == 4 && keyEquals("host", key)) key = ":authority";
  size_t n = 0;
  for (const auto& e : entries_) n += keyEquals(e.key, key) ? 1 : 0;
  return n;
}

size_t HeaderMap::byteSize() const {
  size_t n = 0;
  for (const auto& e : entries_) n += e.key.size() + e.value.size();
  return n;
}

}  // namespace devhost
