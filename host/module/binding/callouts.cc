// Callout binding functions (issue 10): requests through Envoy clusters, one-shot (http_callout) or
// streamed (start_http_stream), and their events (callouts.h). W. Request headers and trailers are
// checked where they become bytes (checkedHeader), as every header write is.
#include <vector>

#include "binding.h"
#include "callouts.h"
#include "envoy_api.h"
#include "stream.h"

namespace nodevoy::binding {

namespace {

using contract::CalloutEventType;

// Throws NODEVOY_ERR_CALLOUT_FAILED with `reason` (a stable, machine-readable word).
Napi::Value calloutFailed(Napi::Env env, const std::string& reason, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("name", Napi::String::New(env, "CalloutError"));
  error.Value().Set("code", Napi::String::New(env, "NODEVOY_ERR_CALLOUT_FAILED"));
  error.Value().Set("reason", Napi::String::New(env, reason));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value unsupported(Napi::Env env, const char* what) {
  return throwCoded(env, "NodevoyError", "NODEVOY_ERR_UNSUPPORTED",
                    std::string(what) + ": this Envoy does not offer HTTP callouts to modules");
}

// Bytes of a string (UTF-8) or a Uint8Array; null/undefined is empty. False after throwing.
bool bodyBytes(const Napi::Value& value, const char* operation, std::string* out) {
  if (value.IsNull() || value.IsUndefined()) return true;
  if (value.IsString()) {
    *out = value.As<Napi::String>().Utf8Value();
    return true;
  }
  if (value.IsTypedArray()) {
    Napi::TypedArray view = value.As<Napi::TypedArray>();
    out->assign(static_cast<const char*>(view.ArrayBuffer().Data()) + view.ByteOffset(), view.ByteLength());
    return true;
  }
  invalidArgument(value.Env(), std::string(operation) + ": the body must be a string or bytes, got " + typeName(value));
  return false;
}

// Checked headers of [name, value, ...] for `target`. False after throwing.
bool headerList(const Napi::Value& value, const char* operation, HeaderTarget target, std::vector<std::string>* names,
                std::vector<std::string>* values) {
  if (!value.IsArray()) {
    invalidArgument(value.Env(), std::string(operation) + ": bad headers");
    return false;
  }
  Napi::Array flat = value.As<Napi::Array>();
  const uint32_t count = flat.Length() / 2;
  names->resize(count);
  values->resize(count);
  for (uint32_t i = 0; i < count; i++) {
    const Napi::Value name = flat.Get(2 * i), item = flat.Get(2 * i + 1);
    const bool pseudo = name.IsString() && name.As<Napi::String>().Utf8Value().rfind(':', 0) == 0;
    if (!checkedHeader(name, &item, operation, target, pseudo ? HeaderWrite::Set : HeaderWrite::Add, &(*names)[i],
                       &(*values)[i])) {
      return false;
    }
    for (uint32_t j = 0; pseudo && j < i; j++) {
      if ((*names)[j] == (*names)[i]) {
        invalidArgument(value.Env(), std::string(operation) + ": " + (*names)[i] + " given twice");
        return false;
      }
    }
  }
  return true;
}

std::vector<nv_module_header> moduleHeaders(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  std::vector<nv_module_header> out(names.size());
  for (size_t i = 0; i < names.size(); i++) {
    out[i] = {names[i].data(), names[i].size(), values[i].data(), values[i].size()};
  }
  return out;
}

uint64_t idArg(const Napi::Value& value) {
  return value.IsNumber() ? static_cast<uint64_t>(value.As<Napi::Number>().DoubleValue()) : 0;
}

}  // namespace

// (token, cluster, [name, value, ...], body, endStream, timeoutMs, buffered) -> callout id.
// buffered: one-shot http_callout (the whole response at once); else start_http_stream.
Napi::Value calloutStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = writableStreamOf(info, "fetch");
  if (stream == nullptr) return env.Undefined();
  const bool buffered = info[6].ToBoolean().Value();
  if ((buffered ? envoy.http_filter_http_callout == nullptr : envoy.http_filter_start_http_stream == nullptr)) {
    return unsupported(env, "fetch");
  }
  if (!info[1].IsString()) return invalidArgument(env, "fetch: the cluster must be a string");
  const std::string cluster = info[1].As<Napi::String>().Utf8Value();
  std::vector<std::string> names, values;
  std::string body;
  if (!headerList(info[2], "fetch", HeaderTarget::Request, &names, &values) || !bodyBytes(info[3], "fetch", &body)) {
    return env.Undefined();
  }
  const bool end_stream = info[4].ToBoolean().Value();
  const double timeout = info[5].IsNumber() ? info[5].As<Napi::Number>().DoubleValue() : 0;
  auto headers = moduleHeaders(names, values);
  // Registered before the call: Envoy may report a failure inside it (its events are then queued).
  StreamCallouts& callouts = calloutsOf(*stream);
  uint64_t id = 0;
  nv_http_callout_init_result result;
  if (buffered) {
    result = envoy.http_filter_http_callout(stream->envoyFilter(), &id, nv_module_buffer{cluster.data(), cluster.size()},
                                            headers.data(), headers.size(), nv_module_buffer{body.data(), body.size()},
                                            timeout > 0 ? static_cast<uint64_t>(timeout) : 0);
  } else {
    // Envoy writes the id before sending, and may deliver events inline: they find it here.
    callouts.starting = &id;
    result = envoy.http_filter_start_http_stream(stream->envoyFilter(), &id,
                                                 nv_module_buffer{cluster.data(), cluster.size()}, headers.data(),
                                                 headers.size(), nv_module_buffer{body.data(), body.size()}, end_stream,
                                                 timeout > 0 ? static_cast<uint64_t>(timeout) : 0);
    callouts.starting = nullptr;
  }
  switch (result) {
    case NV_CALLOUT_INIT_SUCCESS: break;
    case NV_CALLOUT_INIT_MISSING_REQUIRED_HEADERS:
      return calloutFailed(env, "missing_required_headers",
                           "fetch(" + cluster + "): Envoy refused the request: it needs :method, :path and host (:authority)");
    case NV_CALLOUT_INIT_CLUSTER_NOT_FOUND:
      return calloutFailed(env, "cluster_not_found",
                           "fetch(" + cluster + "): Envoy has no cluster named '" + cluster +
                               "' (callouts go to clusters of the Envoy config, by name)");
    case NV_CALLOUT_INIT_DUPLICATE_CALLOUT_ID:
      return calloutFailed(env, "duplicate_callout_id", "fetch(" + cluster + "): Envoy refused a duplicate callout id");
    default:
      return calloutFailed(env, "cannot_create_request", "fetch(" + cluster + "): Envoy could not create the request");
  }
  if (callouts.finished_while_starting.erase(id) == 0) callouts.live.insert(id);
  return Napi::Number::New(env, static_cast<double>(id));
}

// (token, id, data, endStream) -> whether Envoy took it
Napi::Value calloutSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = writableStreamOf(info, "fetch (request body)");
  if (stream == nullptr) return env.Undefined();
  if (envoy.http_stream_send_data == nullptr) return unsupported(env, "fetch");
  std::string data;
  if (!bodyBytes(info[2], "fetch (request body)", &data)) return env.Undefined();
  const bool ok = envoy.http_stream_send_data(stream->envoyFilter(), idArg(info[1]),
                                              nv_module_buffer{data.data(), data.size()}, info[3].ToBoolean().Value());
  return Napi::Boolean::New(env, ok);
}

// (token, id, [name, value, ...]) -> whether Envoy took them
Napi::Value calloutTrailers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = writableStreamOf(info, "fetch (request trailers)");
  if (stream == nullptr) return env.Undefined();
  if (envoy.http_stream_send_trailers == nullptr) return unsupported(env, "fetch");
  std::vector<std::string> names, values;
  if (!headerList(info[2], "fetch (request trailers)", HeaderTarget::RequestTrailers, &names, &values)) {
    return env.Undefined();
  }
  auto trailers = moduleHeaders(names, values);
  const bool ok = envoy.http_stream_send_trailers(stream->envoyFilter(), idArg(info[1]), trailers.data(), trailers.size());
  return Napi::Boolean::New(env, ok);
}

// (token, id): the SDK gives up on the callout (aborted). A streamed one is reset in Envoy; a
// one-shot one cannot be cancelled through the ABI, its result is dropped.
Napi::Value calloutReset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = streamOf(info, "fetch (abort)");
  if (stream == nullptr) return env.Undefined();
  const uint64_t id = idArg(info[1]);
  StreamCallouts& callouts = calloutsOf(*stream);
  if (callouts.live.erase(id) == 0) return env.Undefined();
  if (info[2].ToBoolean().Value() && envoy.http_filter_reset_http_stream != nullptr && !stream->complete()) {
    envoy.http_filter_reset_http_stream(stream->envoyFilter(), id);  // its reset hook finds no waiter
  }
  return env.Undefined();
}

// (token) -> [id, type, ...fields, id, type, ...] of every queued event (contract CalloutEventType).
Napi::Value calloutEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = streamOf(info, "fetch (events)", false);
  if (stream == nullptr) return env.Undefined();
  StreamCallouts& callouts = calloutsOf(*stream);
  std::vector<CalloutEvent> events;
  events.swap(callouts.events);
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  for (auto& event : events) {
    out.Set(n++, Napi::Number::New(env, static_cast<double>(event.id)));
    out.Set(n++, Napi::Number::New(env, static_cast<int>(event.type)));
    switch (event.type) {
      case CalloutEventType::Headers: {
        out.Set(n++, Napi::Number::New(env, event.status));
        napi_value headers;
        napi_create_string_latin1(env, event.data.data(), event.data.size(), &headers);
        out.Set(n++, Napi::Value(env, headers));
        out.Set(n++, Napi::Boolean::New(env, event.end_of_stream));
        stream->countBytes(event.data.size());
        break;
      }
      case CalloutEventType::Data: {
        Napi::Uint8Array bytes = Napi::Uint8Array::New(env, event.data.size());
        if (!event.data.empty()) memcpy(bytes.Data(), event.data.data(), event.data.size());
        out.Set(n++, bytes);
        out.Set(n++, Napi::Boolean::New(env, event.end_of_stream));
        stream->countBytes(event.data.size());
        break;
      }
      case CalloutEventType::Trailers: {
        napi_value trailers;
        napi_create_string_latin1(env, event.data.data(), event.data.size(), &trailers);
        out.Set(n++, Napi::Value(env, trailers));
        break;
      }
      case CalloutEventType::Complete: break;
      case CalloutEventType::Failed: out.Set(n++, Napi::String::New(env, event.data)); break;
    }
  }
  return out;
}

}  // namespace nodevoy::binding
