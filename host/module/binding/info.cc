// Stream information binding functions: Envoy's attributes (stream info), dynamic metadata, filter
// state, and the route cache. W.
#include "binding.h"
#include "envoy_api.h"
#include "stream.h"

namespace nodevoy::binding {

namespace {

std::string stringArg(const Napi::Value& value) { return value.IsString() ? value.As<Napi::String>().Utf8Value() : ""; }

Napi::Value unavailable(Napi::Env env, const char* what) {
  return throwCoded(env, "NodevoyError", "NODEVOY_ERR_INVALID_STATE",
                    std::string(what) + " is not available in this Envoy (its module ABI lacks the callback)");
}

nv_module_buffer buffer(const std::string& s) { return nv_module_buffer{s.data(), s.size()}; }

}  // namespace

// (token, attribute id, type: 0 string | 1 int | 2 bool) -> string | number | boolean | undefined
Napi::Value attribute(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "info");
  if (stream == nullptr) return info.Env().Undefined();
  if (!info[1].IsNumber() || !info[2].IsNumber()) return invalidArgument(info.Env(), "info: bad arguments");
  const auto id = static_cast<nv_attribute_id>(info[1].As<Napi::Number>().Uint32Value());
  switch (info[2].As<Napi::Number>().Uint32Value()) {
    case 0: {
      if (envoy.http_filter_get_attribute_string == nullptr) return unavailable(info.Env(), "this attribute");
      nv_envoy_buffer out{nullptr, 0};
      if (!envoy.http_filter_get_attribute_string(stream->envoyFilter(), id, &out)) return info.Env().Undefined();
      stream->countBytes(out.length);
      return Napi::String::New(info.Env(), out.ptr ? out.ptr : "", out.length);
    }
    case 1: {
      if (envoy.http_filter_get_attribute_int == nullptr) return unavailable(info.Env(), "this attribute");
      uint64_t out = 0;
      if (!envoy.http_filter_get_attribute_int(stream->envoyFilter(), id, &out)) return info.Env().Undefined();
      return Napi::Number::New(info.Env(), static_cast<double>(out));
    }
    default: {
      if (envoy.http_filter_get_attribute_bool == nullptr) return unavailable(info.Env(), "this attribute");
      bool out = false;
      if (!envoy.http_filter_get_attribute_bool(stream->envoyFilter(), id, &out)) return info.Env().Undefined();
      return Napi::Boolean::New(info.Env(), out);
    }
  }
}

// (token, source, namespace, key) -> string | number | boolean | undefined
Napi::Value getMetadata(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "metadata.get");
  if (stream == nullptr) return info.Env().Undefined();
  if (!info[1].IsNumber() || !info[2].IsString() || !info[3].IsString()) {
    return invalidArgument(info.Env(), "metadata.get: the namespace and key must be strings");
  }
  if (envoy.http_get_metadata_string == nullptr) return unavailable(info.Env(), "metadata");
  const auto source = static_cast<nv_metadata_source>(info[1].As<Napi::Number>().Uint32Value());
  const std::string ns = stringArg(info[2]), key = stringArg(info[3]);
  nv_envoy_buffer text{nullptr, 0};
  if (envoy.http_get_metadata_string(stream->envoyFilter(), source, buffer(ns), buffer(key), &text)) {
    stream->countBytes(text.length);
    return Napi::String::New(info.Env(), text.ptr ? text.ptr : "", text.length);
  }
  double number = 0;
  if (envoy.http_get_metadata_number != nullptr &&
      envoy.http_get_metadata_number(stream->envoyFilter(), source, buffer(ns), buffer(key), &number)) {
    return Napi::Number::New(info.Env(), number);
  }
  bool flag = false;
  if (envoy.http_get_metadata_bool != nullptr &&
      envoy.http_get_metadata_bool(stream->envoyFilter(), source, buffer(ns), buffer(key), &flag)) {
    return Napi::Boolean::New(info.Env(), flag);
  }
  return info.Env().Undefined();
}

// (token, namespace, key, value: string | number | boolean)
Napi::Value setMetadata(const Napi::CallbackInfo& info) {
  Stream* stream = writableStreamOf(info, "metadata.set");
  if (stream == nullptr) return info.Env().Undefined();
  if (!info[1].IsString() || !info[2].IsString() || info[1].As<Napi::String>().Utf8Value().empty()) {
    return invalidArgument(info.Env(), "metadata.set: the namespace (non-empty) and key must be strings");
  }
  const std::string ns = stringArg(info[1]), key = stringArg(info[2]);
  if (info[3].IsString()) {
    if (envoy.http_set_dynamic_metadata_string == nullptr) return unavailable(info.Env(), "metadata");
    const std::string value = stringArg(info[3]);
    envoy.http_set_dynamic_metadata_string(stream->envoyFilter(), buffer(ns), buffer(key), buffer(value));
  } else if (info[3].IsNumber()) {
    if (envoy.http_set_dynamic_metadata_number == nullptr) return unavailable(info.Env(), "metadata");
    envoy.http_set_dynamic_metadata_number(stream->envoyFilter(), buffer(ns), buffer(key),
                                           info[3].As<Napi::Number>().DoubleValue());
  } else if (info[3].IsBoolean()) {
    if (envoy.http_set_dynamic_metadata_bool == nullptr) return unavailable(info.Env(), "metadata");
    envoy.http_set_dynamic_metadata_bool(stream->envoyFilter(), buffer(ns), buffer(key), info[3].As<Napi::Boolean>());
  } else {
    return invalidArgument(info.Env(), std::string("metadata.set: the value must be a string, number or boolean, got ") +
                                           typeName(info[3]));
  }
  return info.Env().Undefined();
}

// (token, key) -> Uint8Array | undefined
Napi::Value getFilterState(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "filterState.get");
  if (stream == nullptr) return info.Env().Undefined();
  if (!info[1].IsString()) return invalidArgument(info.Env(), "filterState.get: the key must be a string");
  if (envoy.http_get_filter_state_bytes == nullptr) return unavailable(info.Env(), "filter state");
  const std::string key = stringArg(info[1]);
  nv_envoy_buffer out{nullptr, 0};
  if (!envoy.http_get_filter_state_bytes(stream->envoyFilter(), buffer(key), &out)) return info.Env().Undefined();
  stream->countBytes(out.length);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<const uint8_t*>(out.ptr), out.length);
}

// (token, key, value: string | Uint8Array) -> boolean (false: Envoy refused, e.g. a read-only key)
Napi::Value setFilterState(const Napi::CallbackInfo& info) {
  Stream* stream = writableStreamOf(info, "filterState.set");
  if (stream == nullptr) return info.Env().Undefined();
  if (!info[1].IsString() || info[1].As<Napi::String>().Utf8Value().empty()) {
    return invalidArgument(info.Env(), "filterState.set: the key must be a non-empty string");
  }
  if (envoy.http_set_filter_state_bytes == nullptr) return unavailable(info.Env(), "filter state");
  std::string value;
  if (info[2].IsString()) {
    value = stringArg(info[2]);
  } else if (info[2].IsTypedArray()) {
    Napi::TypedArray view = info[2].As<Napi::TypedArray>();
    value.assign(static_cast<const char*>(view.ArrayBuffer().Data()) + view.ByteOffset(), view.ByteLength());
  } else {
    return invalidArgument(info.Env(), std::string("filterState.set: the value must be a string or bytes, got ") +
                                           typeName(info[2]));
  }
  const std::string key = stringArg(info[1]);
  return Napi::Boolean::New(info.Env(), envoy.http_set_filter_state_bytes(stream->envoyFilter(), buffer(key), buffer(value)));
}

// (token): routing sees header changes made since (a rewritten :path, say).
Napi::Value clearRouteCache(const Napi::CallbackInfo& info) {
  Stream* stream = writableStreamOf(info, "clearRouteCache");
  if (stream == nullptr) return info.Env().Undefined();
  if (envoy.http_clear_route_cache == nullptr) return unavailable(info.Env(), "clearRouteCache");
  envoy.http_clear_route_cache(stream->envoyFilter());
  return info.Env().Undefined();
}

}  // namespace nodevoy::binding
