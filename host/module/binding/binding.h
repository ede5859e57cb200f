// The native binding (process._linkedBinding('nodevoy') inside the bootstrap only): one C++ function
// per name in the contract's BINDING_FUNCTIONS, grouped by file — process.cc, headers.cc,
// control.cc. Translation only: checks and converts arguments, then calls Stream or Envoy.
//
// Threads: process functions run on whichever thread holds the isolate lock (L); stream functions
// check that they run on the stream's worker (W) before touching anything (streamOf).
#pragma once

#include <node.h>  // before napi.h, so NAPI_VERSION comes from the embedded Node's headers
#include <napi.h>

#include <string>

#include "contract.gen.h"
#include "header_rules.h"

namespace nodevoy {

class Stream;
class WorkerEnv;

namespace binding {

#define NV_DECLARE_BINDING_FUNCTION(name) Napi::Value name(const Napi::CallbackInfo& info);
NV_BINDING_FUNCTIONS(NV_DECLARE_BINDING_FUNCTION)
#undef NV_DECLARE_BINDING_FUNCTION

// The environment the calling binding belongs to.
WorkerEnv* envOf(const Napi::CallbackInfo& info);
// Throws a JS error with name and code. Returns undefined, for `return throwCoded(...)`.
Napi::Value throwCoded(Napi::Env env, const char* name, const char* code, const std::string& message);
Napi::Value invalidArgument(Napi::Env env, const std::string& message);
// Resolves the live stream a token (info[0]) names on this worker, counting the crossing unless
// told not to (reading the counters themselves); null after throwing (wrong thread, stream gone).
Stream* streamOf(const Napi::CallbackInfo& info, const char* operation, bool count_crossing = true);
// Like streamOf, and the stream must not be complete (writes, replies, continues).
Stream* writableStreamOf(const Napi::CallbackInfo& info, const char* operation);
// "a string", "an object", ... for messages.
const char* typeName(const Napi::Value& value);
// Reads one header (name, and value unless null) as bytes checked for `target` (headers.cc); the
// name lower-cased. False after throwing NODEVOY_ERR_INVALID_ARGUMENT.
bool checkedHeader(const Napi::Value& name_value, const Napi::Value* value_value, const char* operation,
                   HeaderTarget target, HeaderWrite write, std::string* name, std::string* value);

}  // namespace binding
}  // namespace nodevoy
