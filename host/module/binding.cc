// The native binding the SDK runtime calls (process._linkedBinding('nodevoy')). Every stream call
// is checked: the token must name a live stream (else StreamGoneError) and the caller must be that
// stream's worker thread (else a wrong-thread error), so Envoy memory is never touched late or from
// another thread.
#include <node.h>  // before napi.h, so NAPI_VERSION comes from the embedded Node's headers
#include <napi.h>

#include <cstring>

#include "envoy_api.h"
#include "filter_config.h"
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

nv_header_type headerType(const Napi::Value& value) {
  uint32_t type = value.IsNumber() ? value.As<Napi::Number>().Uint32Value() : 0;
  return type <= 3 ? static_cast<nv_header_type>(type) : NV_HEADER_REQUEST;
}

// A JS string as latin1 bytes (header names and values are bytes, not UTF-8).
std::string latin1(const Napi::Value& value) {
  napi_env env = value.Env();
  size_t length = 0;
  napi_get_value_string_latin1(env, value, nullptr, 0, &length);
  std::string out(length, '\0');
  napi_get_value_string_latin1(env, value, out.data(), length + 1, &length);
  return out;
}

Napi::Value Setup(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  Napi::Object runtime = info[0].As<Napi::Object>();
  v8::Isolate* isolate = env->isolate();
  // In Node, a napi_value is a v8::Local<v8::Value> (v8impl::V8LocalValueFromJsValue).
  auto local = [](Napi::Value v) {
    napi_value raw = v;
    v8::Local<v8::Value> out;
    static_assert(sizeof(out) == sizeof(raw), "napi_value is a v8::Local");
    memcpy(static_cast<void*>(&out), &raw, sizeof(out));
    return out;
  };
  (void)isolate;
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

Napi::Value LogEnabled(const Napi::CallbackInfo& info) {
  uint32_t level = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 2;
  return Napi::Boolean::New(info.Env(), logEnabled(static_cast<nv_log_level>(level)));
}

// All headers of a map in one crossing: "k\0v\0k\0v" (latin1), "" for an empty or absent map.
Napi::Value GetHeaders(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "headers");
  if (record == nullptr) return info.Env().Undefined();
  nv_header_type type = headerType(info[1]);
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

Napi::Value SetHeader(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "headers.set");
  if (record == nullptr) return info.Env().Undefined();
  std::string key = latin1(info[2]);
  bool removing = info[3].IsNull() || info[3].IsUndefined();
  std::string value = removing ? std::string() : latin1(info[3]);
  nv_module_buffer value_buffer = removing ? nv_module_buffer{nullptr, 0} : nv_module_buffer{value.data(), value.size()};
  bool ok = envoy.http_set_header(record->filter_envoy, headerType(info[1]), nv_module_buffer{key.data(), key.size()},
                                  value_buffer);
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value AddHeader(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "headers.add");
  if (record == nullptr) return info.Env().Undefined();
  std::string key = latin1(info[2]);
  std::string value = latin1(info[3]);
  bool ok = envoy.http_add_header(record->filter_envoy, headerType(info[1]), nv_module_buffer{key.data(), key.size()},
                                  nv_module_buffer{value.data(), value.size()});
  return Napi::Boolean::New(info.Env(), ok);
}

// (token, status, body: string | Uint8Array | null, headers: "k\0v\0..." | "", details: string)
Napi::Value SendLocalReply(const Napi::CallbackInfo& info) {
  StreamRecord* record = streamOf(info, "sendLocalReply");
  if (record == nullptr) return info.Env().Undefined();
  if (record->replied) {
    codedError(info.Env(), "Error", "NODEVOY_ERR_ALREADY_REPLIED", "sendLocalReply: this stream was already answered")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  uint32_t status = info[1].As<Napi::Number>().Uint32Value();
  std::string body;
  if (info[2].IsString()) {
    body = info[2].As<Napi::String>().Utf8Value();
  } else if (info[2].IsTypedArray()) {
    Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
    body.assign(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
  }
  std::string flat = info[3].IsString() ? latin1(info[3]) : std::string();
  std::vector<nv_module_header> headers;
  size_t start = 0;
  while (start < flat.size()) {
    size_t key_end = flat.find('\0', start);
    if (key_end == std::string::npos) break;
    size_t value_end = flat.find('\0', key_end + 1);
    if (value_end == std::string::npos) value_end = flat.size();
    headers.push_back({flat.data() + start, key_end - start, flat.data() + key_end + 1, value_end - key_end - 1});
    start = value_end + 1;
  }
  std::string details = info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : std::string();
  record->replied = true;
  envoy.http_send_response(record->filter_envoy, status, headers.data(), headers.size(),
                           nv_module_buffer{body.data(), body.size()},
                           nv_module_buffer{details.empty() ? nullptr : details.data(), details.size()});
  return info.Env().Undefined();
}

// An async hook settled, or a filter continues after returning 'stop': (token, hook kind, result).
Napi::Value Resume(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  if (!env->onWorkerThread()) {
    codedError(info.Env(), "WrongThreadError", "NODEVOY_ERR_WRONG_THREAD", "resume: called off the stream's worker")
        .ThrowAsJavaScriptException();
    return info.Env().Undefined();
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
  WorkerEnv* env = envOf(info);
  StreamRecord* record = env->onWorkerThread() ? env->lookup(info[0].As<Napi::Number>().DoubleValue()) : nullptr;
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), record ? static_cast<double>(record->crossings) : 0));
  out.Set(1u, Napi::Number::New(info.Env(), record ? static_cast<double>(record->bytes_copied) : 0));
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
