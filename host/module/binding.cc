// The native binding the SDK runtime calls (process._linkedBinding('nodevoy')). Every stream call
// is checked: the token must name a live stream (else StreamGoneError) and the caller must be that
// stream's worker thread (else a wrong-thread error), so Envoy memory is never touched late or from
// another thread.
#include <node.h>  // before napi.h, so NAPI_VERSION comes from the embedded Node's headers
#include <napi.h>

#include <cstring>

#include "envoy_api.h"
#include "filter_config.h"
#include "header_rules.h"
#include "log.h"
#include "runtime.h"

namespace nodevoy {

namespace {

WorkerEnv* g_registering = nullptr;  // the environment whose bootstrap is running (main thread)

WorkerEnv* envOf(const Napi::CallbackInfo& info) { return info.Env().GetInstanceData<WorkerEnv>(); }

Napi::Error codedError(Napi::Env env, const char* name, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("name", Napi::String::New(env, name));
  error.Value().Set("code", Napi::String::New(env, code));
  return error;
}

// Resolves the stream a token names, or throws. Returns null after throwing.
StreamRecord* streamOf(const Napi::CallbackInfo& info, const char* operation) {
  WorkerEnv* env = envOf(info);
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(operation) + ": missing stream token").ThrowAsJavaScriptException();
    return nullptr;
  }
  // The thread first: stream records belong to the worker and are read only on its thread.
  if (!env->onWorkerThread()) {
    codedError(info.Env(), "WrongThreadError", "NODEVOY_ERR_WRONG_THREAD",
               std::string(operation) + ": called off the stream's Envoy worker thread")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  StreamRecord* record = env->lookup(info[0].As<Napi::Number>().DoubleValue());
  if (record == nullptr) {
    codedError(info.Env(), "StreamGoneError", "NODEVOY_ERR_STREAM_GONE",
               std::string(operation) + ": the stream is gone (its request has completed); values already read stay valid")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  record->crossings++;
  return record;
}

Napi::Value invalidArgument(Napi::Env env, const std::string& message) {
  codedError(env, "NodevoyError", "NODEVOY_ERR_INVALID_ARGUMENT", message).ThrowAsJavaScriptException();
  return env.Undefined();
}

const char* typeName(const Napi::Value& value) {
  switch (value.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "a boolean";
    case napi_number: return "a number";
    case napi_string: return "a string";
    case napi_symbol: return "a symbol";
    case napi_object: return "an object";
    case napi_function: return "a function";
    case napi_external: return "an external";
    case napi_bigint: return "a bigint";
  }
  return "an unknown value";
}

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

// Once, from the bootstrap: the runtime object and the tick hooks. Later calls (filter code can reach
// the binding) are refused.
Napi::Value Setup(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  if (env->hasRuntimeObject()) return invalidArgument(info.Env(), "setup: already done");
  if (!info[0].IsObject()) return invalidArgument(info.Env(), "setup: bad arguments");
  Napi::Object runtime = info[0].As<Napi::Object>();
  if (!runtime.Get("processTicks").IsFunction() || !runtime.Get("tickFlag").IsTypedArray()) {
    return invalidArgument(info.Env(), "setup: bad arguments");
  }
  // In Node, a napi_value is a v8::Local<v8::Value> (v8impl::V8LocalValueFromJsValue).
  auto local = [](Napi::Value v) {
    napi_value raw = v;
    v8::Local<v8::Value> out;
    static_assert(sizeof(out) == sizeof(raw), "napi_value is a v8::Local");
    memcpy(static_cast<void*>(&out), &raw, sizeof(out));
    return out;
  };
  env->setTickHooks(local(runtime.Get("processTicks")).As<v8::Function>(),
                    local(runtime.Get("tickFlag")).As<v8::Int32Array>());
  env->setRuntimeObject(local(runtime).As<v8::Object>());
  return info.Env().Undefined();
}

Napi::Value Log(const Napi::CallbackInfo& info) {
  uint32_t level = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 2;
  if (level > NV_LOG_CRITICAL) level = NV_LOG_CRITICAL;
  if (!logEnabled(static_cast<nv_log_level>(level))) return info.Env().Undefined();
  std::string message = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  if (envoy.log != nullptr) {
    envoy.log(static_cast<nv_log_level>(level), nv_module_buffer{message.data(), message.size()});
  }
  return info.Env().Undefined();
}

// An error outside every hook (from the bootstrap's capture callback): logged and counted.
Napi::Value Uncaught(const Napi::CallbackInfo& info) {
  std::string message = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "nodevoy: uncaught error";
  NV_ERROR("%s", message.c_str());
  countUncaughtError();
  return info.Env().Undefined();
}

Napi::Value LogEnabled(const Napi::CallbackInfo& info) {
  uint32_t level = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 2;
  return Napi::Boolean::New(info.Env(), logEnabled(static_cast<nv_log_level>(level)));
}

// All headers of a map in one crossing: "k\0v\0k\0v" (latin1), "" for an empty or absent map.
Napi::Value GetHeaders(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "headers");
  if (record == nullptr) return info.Env().Undefined();
  nv_header_type type;
  HeaderTarget target;
  if (!headerType(info[1], &type, &target)) return invalidArgument(info.Env(), "headers: bad header map");
  size_t count = envoy.http_get_headers_size(record->filter_envoy, type);
  if (count == 0) return Napi::String::New(info.Env(), "");
  std::vector<nv_envoy_header> headers(count);
  if (!envoy.http_get_headers(record->filter_envoy, type, headers.data())) return Napi::String::New(info.Env(), "");
  size_t total = 0;
  for (const auto& h : headers) total += h.key_length + h.value_length + 2;
  std::string joined;
  joined.reserve(total);
  for (size_t i = 0; i < count; i++) {
    if (i > 0) joined.push_back('\0');
    joined.append(headers[i].key_ptr, headers[i].key_length);
    joined.push_back('\0');
    joined.append(headers[i].value_ptr, headers[i].value_length);
  }
  record->bytes_copied += joined.size();
  napi_value out;
  napi_create_string_latin1(info.Env(), joined.data(), joined.size(), &out);
  return Napi::Value(info.Env(), out);
}

// (token, type, name, value | null): null removes every value of the name.
Napi::Value SetHeader(const Napi::CallbackInfo& info) {
  const bool removing = info[3].IsNull() || info[3].IsUndefined();
  const char* operation = removing ? "headers.remove" : "headers.set";
  StreamRecord* record = streamOf(info, operation);
  if (record == nullptr) return info.Env().Undefined();
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
  bool ok = envoy.http_set_header(record->filter_envoy, type, nv_module_buffer{name.data(), name.size()}, value_buffer);
  return Napi::Boolean::New(info.Env(), ok);
}

// (token, type, name, value)
Napi::Value AddHeader(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "headers.add");
  if (record == nullptr) return info.Env().Undefined();
  nv_header_type type;
  HeaderTarget target;
  if (!headerType(info[1], &type, &target)) return invalidArgument(info.Env(), "headers.add: bad header map");
  std::string name, value;
  const Napi::Value value_arg = info[3];
  if (!checkedHeader(info[2], &value_arg, "headers.add", target, HeaderWrite::Add, &name, &value)) {
    return info.Env().Undefined();
  }
  bool ok = envoy.http_add_header(record->filter_envoy, type, nv_module_buffer{name.data(), name.size()},
                                  nv_module_buffer{value.data(), value.size()});
  return Napi::Boolean::New(info.Env(), ok);
}

// (token, status, body: string | bytes | null, headers: [name, value, ...], details: string). Everything
// is checked before anything changes: a refused reply leaves the stream as it was.
Napi::Value SendLocalReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StreamRecord* record = streamOf(info, "sendLocalReply");
  if (record == nullptr) return env.Undefined();
  if (record->replied) {
    codedError(env, "NodevoyError", "NODEVOY_ERR_ALREADY_REPLIED", "sendLocalReply: this stream was already answered")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double status_number = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  if (!info[1].IsNumber() || status_number != static_cast<double>(static_cast<uint32_t>(status_number)) ||
      status_number < 200 || status_number > 599) {
    return invalidArgument(env, "sendLocalReply: status must be an integer 200..599");
  }
  std::string body;
  if (info[2].IsString()) {
    body = info[2].As<Napi::String>().Utf8Value();
  } else if (info[2].IsTypedArray()) {
    Napi::TypedArray view = info[2].As<Napi::TypedArray>();
    const char* data = static_cast<const char*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    body.assign(data, view.ByteLength());
  } else if (info[2].IsArrayBuffer()) {
    Napi::ArrayBuffer buffer = info[2].As<Napi::ArrayBuffer>();
    body.assign(static_cast<const char*>(buffer.Data()), buffer.ByteLength());
  } else if (!info[2].IsNull() && !info[2].IsUndefined()) {
    return invalidArgument(env, std::string("sendLocalReply: the body must be a string or bytes (Uint8Array), got ") +
                                    typeName(info[2]));
  }
  if (!info[3].IsArray()) return invalidArgument(env, "sendLocalReply: bad headers");
  Napi::Array flat = info[3].As<Napi::Array>();
  const uint32_t count = flat.Length() / 2;
  std::vector<std::string> names(count), values(count);
  for (uint32_t i = 0; i < count; i++) {
    const Napi::Value value = flat.Get(2 * i + 1);
    if (!checkedHeader(flat.Get(2 * i), &value, "sendLocalReply", HeaderTarget::LocalReply, HeaderWrite::Add,
                       &names[i], &values[i])) {
      return env.Undefined();
    }
  }
  std::string details = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : std::string();
  if (details.empty() || details.size() > 256) {
    return invalidArgument(env, "sendLocalReply: details must be 1..256 characters");
  }
  for (unsigned char c : details) {
    if (c <= 0x20 || c >= 0x7F) {
      return invalidArgument(env, "sendLocalReply: details " + quoteForMessage(std::u16string(details.begin(), details.end())) +
                                      " must be visible ASCII without spaces (it is Envoy's response code details, "
                                      "e.g. my_filter_denied)");
    }
  }
  std::vector<nv_module_header> headers(count);
  for (uint32_t i = 0; i < count; i++) {
    headers[i] = {names[i].data(), names[i].size(), values[i].data(), values[i].size()};
  }
  record->replied = true;
  envoy.http_send_response(record->filter_envoy, static_cast<uint32_t>(status_number), headers.data(), headers.size(),
                           nv_module_buffer{body.data(), body.size()}, nv_module_buffer{details.data(), details.size()});
  return env.Undefined();
}

// An async hook settled, or a filter continues after returning 'stop': (token, hook kind, result).
Napi::Value Resume(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  if (!env->onWorkerThread()) {
    codedError(info.Env(), "WrongThreadError", "NODEVOY_ERR_WRONG_THREAD", "resume: called off the stream's worker")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return invalidArgument(info.Env(), "resume: bad arguments");
  }
  StreamRecord* record = env->lookup(info[0].As<Napi::Number>().DoubleValue());
  if (record == nullptr) return info.Env().Undefined();  // the stream is gone: nothing to resume
  const int kind = info[1].As<Napi::Number>().Int32Value();
  const int result = info[2].As<Napi::Number>().Int32Value();
  if (record->running_kind == kind) {
    // Settled before its own hook returned: the hook answers with it directly.
    record->result = result;
    record->result_ready = true;
  } else if (record->pending_kind == kind) {
    record->result = result;
    record->result_ready = true;
    if (!record->resume_posted) {
      record->resume_posted = true;
      envoy.http_filter_scheduler_commit(record->scheduler, kEventResume);
    }
  }
  return info.Env().Undefined();
}

Napi::Value Counters(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "dataPathStats");
  if (record == nullptr) return info.Env().Undefined();
  record->crossings--;  // reading the counters is not a data-path crossing
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(record->crossings)));
  out.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(record->bytes_copied)));
  return out;
}

Napi::Value StreamInfo(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "streamInfo");
  if (record == nullptr) return info.Env().Undefined();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(record->stream_id)));
  out.Set(1u, Napi::Number::New(info.Env(), record->env->index()));
  return out;
}

Napi::Value WorkerIndex(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  return Napi::Number::New(info.Env(), env->index() == UINT32_MAX ? -1.0 : static_cast<double>(env->index()));
}

void keepWorkerEnv(Napi::Env, WorkerEnv*) {}  // owned by the runtime, not by N-API

napi_value Init(napi_env raw_env, napi_value raw_exports) {
  Napi::Env env(raw_env);
  Napi::Object exports(raw_env, raw_exports);
  env.SetInstanceData<WorkerEnv, keepWorkerEnv>(g_registering);
  exports.Set("setup", Napi::Function::New(env, Setup, "setup"));
  exports.Set("log", Napi::Function::New(env, Log, "log"));
  exports.Set("uncaught", Napi::Function::New(env, Uncaught, "uncaught"));
  exports.Set("logEnabled", Napi::Function::New(env, LogEnabled, "logEnabled"));
  exports.Set("getHeaders", Napi::Function::New(env, GetHeaders, "getHeaders"));
  exports.Set("setHeader", Napi::Function::New(env, SetHeader, "setHeader"));
  exports.Set("addHeader", Napi::Function::New(env, AddHeader, "addHeader"));
  exports.Set("sendLocalReply", Napi::Function::New(env, SendLocalReply, "sendLocalReply"));
  exports.Set("resume", Napi::Function::New(env, Resume, "resume"));
  exports.Set("counters", Napi::Function::New(env, Counters, "counters"));
  exports.Set("streamInfo", Napi::Function::New(env, StreamInfo, "streamInfo"));
  exports.Set("workerIndex", Napi::Function::New(env, WorkerIndex, "workerIndex"));
  Napi::ArrayBuffer table = Napi::ArrayBuffer::New(env, g_registering->livenessTable(),
                                                   StreamRecord::kMaxStreams * sizeof(uint32_t));
  exports.Set("liveness", Napi::Uint32Array::New(env, StreamRecord::kMaxStreams, table, 0));
  return raw_exports;
}

}  // namespace

// Main thread, before the environment's bootstrap runs.
void registerBinding(node::Environment* env, WorkerEnv* worker_env) {
  g_registering = worker_env;
  node::AddLinkedBinding(env, "nodevoy", Init, NAPI_VERSION);
}

}  // namespace nodevoy
