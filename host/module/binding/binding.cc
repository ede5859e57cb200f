#include "binding.h"

#include "stream.h"
#include "worker_env.h"

namespace nodevoy {

namespace binding {

namespace {
WorkerEnv* g_registering = nullptr;  // the environment whose bootstrap is running (M)

void keepWorkerEnv(Napi::Env, WorkerEnv*) {}  // owned by the runtime, not by N-API

napi_value Init(napi_env raw_env, napi_value raw_exports) {
  Napi::Env env(raw_env);
  Napi::Object exports(raw_env, raw_exports);
  env.SetInstanceData<WorkerEnv, keepWorkerEnv>(g_registering);
#define NV_REGISTER_BINDING_FUNCTION(name) exports.Set(#name, Napi::Function::New(env, name, #name));
  NV_BINDING_FUNCTIONS(NV_REGISTER_BINDING_FUNCTION)
#undef NV_REGISTER_BINDING_FUNCTION
  Napi::ArrayBuffer table =
      Napi::ArrayBuffer::New(env, g_registering->livenessTable(), StreamTable::kSlots * sizeof(uint32_t));
  exports.Set("liveness", Napi::Uint32Array::New(env, StreamTable::kSlots, table, 0));
  return raw_exports;
}
}  // namespace

WorkerEnv* envOf(const Napi::CallbackInfo& info) { return info.Env().GetInstanceData<WorkerEnv>(); }

Napi::Value throwCoded(Napi::Env env, const char* name, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Value().Set("name", Napi::String::New(env, name));
  error.Value().Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value invalidArgument(Napi::Env env, const std::string& message) {
  return throwCoded(env, "NodevoyError", "NODEVOY_ERR_INVALID_ARGUMENT", message);
}

Stream* streamOf(const Napi::CallbackInfo& info, const char* operation, bool count_crossing) {
  WorkerEnv* env = envOf(info);
  if (info.Length() < 1 || !info[0].IsNumber()) {
    invalidArgument(info.Env(), std::string(operation) + ": missing stream token");
    return nullptr;
  }
  // The thread first: streams belong to the worker and are read only on its thread.
  if (!env->onWorkerThread()) {
    throwCoded(info.Env(), "WrongThreadError", "NODEVOY_ERR_WRONG_THREAD",
               std::string(operation) + ": called off the stream's Envoy worker thread");
    return nullptr;
  }
  Stream* stream = env->lookup(info[0].As<Napi::Number>().DoubleValue());
  if (stream == nullptr) {
    throwCoded(info.Env(), "StreamGoneError", "NODEVOY_ERR_STREAM_GONE",
               std::string(operation) + ": the stream is gone (its request has completed); values already read stay valid");
    return nullptr;
  }
  if (count_crossing) stream->countCrossing();
  return stream;
}

Stream* writableStreamOf(const Napi::CallbackInfo& info, const char* operation) {
  Stream* stream = streamOf(info, operation);
  if (stream != nullptr && stream->complete()) {
    throwCoded(info.Env(), "NodevoyError", "NODEVOY_ERR_STREAM_COMPLETE",
               std::string(operation) +
                   ": the stream is complete (its response was sent or it was reset): headers can be read, but not "
                   "changed, and no reply can be sent");
    return nullptr;
  }
  return stream;
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

}  // namespace binding

// M, before the environment's bootstrap runs.
void registerBinding(node::Environment* env, WorkerEnv* worker_env) {
  binding::g_registering = worker_env;
  node::AddLinkedBinding(env, "nodevoy", binding::Init, NAPI_VERSION);
}

}  // namespace nodevoy
