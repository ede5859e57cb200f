// Header binding functions: one crossing reads a whole map; every write checks its bytes where they
// are made (header_rules.h), so no path can send what the rules refuse. W.
#include <cstring>
#include <vector>

#include "binding.h"
#include "envoy_api.h"
#include "header_rules.h"
#include "stream.h"
#include "worker_env.h"

namespace nodevoy::binding {

// The header list an argument names (the ABI's header types), or false after throwing.
bool headerType(const Napi::Value& value, nv_header_type* type, HeaderTarget* target) {
  if (!value.IsNumber()) return false;
  uint32_t raw = value.As<Napi::Number>().Uint32Value();
  if (raw > NV_HEADER_RESPONSE_TRAILER) return false;
  *type = static_cast<nv_header_type>(raw);
  static const HeaderTarget kTargets[] = {HeaderTarget::Request, HeaderTarget::RequestTrailers, HeaderTarget::Response,
                                          HeaderTarget::ResponseTrailers};
  *target = kTargets[raw];
  return true;
}

// A JS string as header bytes: each UTF-16 code unit must be a byte (never narrowed silently).
// `text` keeps the string as given, for messages. False after throwing.
bool headerBytes(const Napi::Value& value, const std::string& context, const char* what, std::u16string* text,
                 std::string* bytes) {
  napi_env env = value.Env();
  if (!value.IsString()) {
    invalidArgument(value.Env(), context + ": the header " + what + " must be a string, got " + typeName(value));
    return false;
  }
  size_t length = 0;
  napi_get_value_string_utf16(env, value, nullptr, 0, &length);
  text->resize(length);
  napi_get_value_string_utf16(env, value, text->data(), length + 1, &length);
  size_t bad = narrowToBytes(*text, bytes);
  if (bad != std::u16string::npos) {
    invalidArgument(value.Env(), context + ": invalid header " + what + ": " + notByteMessage((*text)[bad], bad));
    return false;
  }
  return true;
}

// Reads and checks one header for `target` (name lower-cased). False after throwing.
bool checkedHeader(const Napi::Value& name_value, const Napi::Value* value_value, const char* operation,
                   HeaderTarget target, HeaderWrite write, std::string* name, std::string* value) {
  Napi::Env env = name_value.Env();
  std::u16string name_text, value_text;
  if (!headerBytes(name_value, operation, "name", &name_text, name)) return false;
  lowerAscii(name);
  const std::string context = std::string(operation) + "(" + quoteForMessage(name_text) + ")";
  std::string problem = checkHeaderName(*name, target, write);
  if (!problem.empty()) {
    invalidArgument(env, context + ": invalid header name: " + problem);
    return false;
  }
  if (value_value == nullptr) return true;
  if (!headerBytes(*value_value, context, "value", &value_text, value)) return false;
  problem = checkHeaderValue(*name, *value, target, write);
  if (!problem.empty()) {
    invalidArgument(env, context + ": invalid value " + quoteForMessage(value_text) + ": " + problem);
    return false;
  }
  return true;
}

// All headers of a map in one crossing: "\0name\x01value" per entry (contract::HeaderMapSeparator;
// latin1; names are tokens and values have no NUL, so the SDK finds a name by searching for
// "\0name\x01" without splitting the map), "" for an empty or absent map. The buffers are the worker's own, reused: no allocation.
Napi::Value getHeaders(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "headers");
  if (stream == nullptr) return info.Env().Undefined();
  nv_header_type type;
  HeaderTarget target;
  if (!headerType(info[1], &type, &target)) return invalidArgument(info.Env(), "headers: bad header map");
  WorkerEnv::HeaderScratch& scratch = stream->env().headerScratch();
  std::vector<nv_envoy_header>& headers = scratch.headers;
  std::string& joined = scratch.joined;
  joined.clear();
  const size_t count = envoy.http_get_headers_size(stream->envoyFilter(), type);
  headers.resize(count);
  if (count > 0 && envoy.http_get_headers(stream->envoyFilter(), type, headers.data())) {
    size_t length = 0;
    for (const auto& h : headers) length += 2 + h.key_length + h.value_length;
    joined.resize(length);  // sized once, then filled: no capacity check per piece
    char* at = joined.data();
    for (const auto& h : headers) {
      *at++ = contract::kHeaderMapEntry;
      if (h.key_length > 0) memcpy(at, h.key_ptr, h.key_length);
      at += h.key_length;
      *at++ = contract::kHeaderMapValue;
      if (h.value_length > 0) memcpy(at, h.value_ptr, h.value_length);
      at += h.value_length;
    }
  }
  stream->countBytes(joined.size());
  napi_value out;
  napi_create_string_latin1(info.Env(), joined.data(), joined.size(), &out);
  return Napi::Value(info.Env(), out);
}

// (token, type, name, value | null): null removes every value of the name.
Napi::Value setHeader(const Napi::CallbackInfo& info) {
  const bool removing = info[3].IsNull() || info[3].IsUndefined();
  const char* operation = removing ? "headers.remove" : "headers.set";
  Stream* stream = writableStreamOf(info, operation);
  if (stream == nullptr) return info.Env().Undefined();
  nv_header_type type;
  HeaderTarget target;
  if (!headerType(info[1], &type, &target)) return invalidArgument(info.Env(), std::string(operation) + ": bad header map");
  std::string name, value;
  const Napi::Value value_arg = info[3];
  if (!checkedHeader(info[2], removing ? nullptr : &value_arg, operation, target,
                     removing ? HeaderWrite::Remove : HeaderWrite::Set, &name, &value)) {
    return info.Env().Undefined();
  }
  nv_module_buffer value_buffer = removing ? nv_module_buffer{nullptr, 0} : nv_module_buffer{value.data(), value.size()};
  bool ok = envoy.http_set_header(stream->envoyFilter(), type, nv_module_buffer{name.data(), name.size()}, value_buffer);
  return Napi::Boolean::New(info.Env(), ok);
}

// (token, type, name, value)
Napi::Value addHeader(const Napi::CallbackInfo& info) {
  Stream* stream = writableStreamOf(info, "headers.add");
  if (stream == nullptr) return info.Env().Undefined();
  nv_header_type type;
  HeaderTarget target;
  if (!headerType(info[1], &type, &target)) return invalidArgument(info.Env(), "headers.add: bad header map");
  std::string name, value;
  const Napi::Value value_arg = info[3];
  if (!checkedHeader(info[2], &value_arg, "headers.add", target, HeaderWrite::Add, &name, &value)) {
    return info.Env().Undefined();
  }
  bool ok = envoy.http_add_header(stream->envoyFilter(), type, nv_module_buffer{name.data(), name.size()},
                                  nv_module_buffer{value.data(), value.size()});
  return Napi::Boolean::New(info.Env(), ok);
}

}  // namespace nodevoy::binding
