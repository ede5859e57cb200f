// Body binding functions: ask for a body (whole or streamed), read it, change it. The state and the
// rules (when a body can be read or changed, content-length) are the Stream's; these translate. W.
#include "binding.h"
#include "stream.h"

namespace nodevoy::binding {

namespace {

bool directionOf(const Napi::Value& value, contract::Direction* out) {
  if (!value.IsNumber()) return false;
  const int raw = value.As<Napi::Number>().Int32Value();
  if (raw != static_cast<int>(contract::Direction::Request) && raw != static_cast<int>(contract::Direction::Response)) {
    return false;
  }
  *out = static_cast<contract::Direction>(raw);
  return true;
}

template <class Enum>
bool enumOf(const Napi::Value& value, int low, int high, Enum* out) {
  if (!value.IsNumber()) return false;
  const int raw = value.As<Napi::Number>().Int32Value();
  if (raw < low || raw > high) return false;
  *out = static_cast<Enum>(raw);
  return true;
}

Napi::Value invalidState(Napi::Env env, const char* operation, const std::string& why) {
  return throwCoded(env, "NodevoyError", "NODEVOY_ERR_INVALID_STATE", std::string(operation) + ": " + why);
}

}  // namespace

// (token, direction, mode) -> BodyReadState
Napi::Value bodyMode(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "body");
  if (stream == nullptr) return info.Env().Undefined();
  contract::Direction direction;
  contract::BodyMode mode;
  if (!directionOf(info[1], &direction) || !enumOf(info[2], 0, 2, &mode)) {
    return invalidArgument(info.Env(), "body: bad arguments");
  }
  return Napi::Number::New(info.Env(), static_cast<int>(stream->setBodyMode(direction, mode)));
}

// (token, direction, part) -> Uint8Array (a copy)
// One copy, from Envoy's buffers straight into a Buffer that V8 allocates (uninitialised). Not an
// external Buffer over a native copy: Node gives each of those a global handle, a weak callback and,
// when collected, a cross-thread immediate (an eventfd write waking the loop) to run its finalizer.
Napi::Value readBody(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "body.read");
  if (stream == nullptr) return info.Env().Undefined();
  contract::Direction direction;
  contract::BodyPart part;
  if (!directionOf(info[1], &direction) || !enumOf(info[2], 0, 1, &part)) {
    return invalidArgument(info.Env(), "body.read: bad arguments");
  }
  Stream::BodyView view;
  std::string why;
  if (!stream->readBody(direction, part, &view, &why)) return invalidState(info.Env(), "body.read", why);
  // Allocating cannot change Envoy's buffers (no JS runs, and this is the worker thread): the view holds.
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), view.size);
  view.copyTo(reinterpret_cast<char*>(out.Data()));
  return out;
}

// (token, direction, part, write, data: string | Uint8Array)
Napi::Value writeBody(const Napi::CallbackInfo& info) {
  Stream* stream = writableStreamOf(info, "body.write");
  if (stream == nullptr) return info.Env().Undefined();
  contract::Direction direction;
  contract::BodyPart part;
  contract::BodyWrite write;
  if (!directionOf(info[1], &direction) || !enumOf(info[2], 0, 1, &part) || !enumOf(info[3], 0, 2, &write)) {
    return invalidArgument(info.Env(), "body.write: bad arguments");
  }
  std::string data;
  if (info[4].IsString()) {
    data = info[4].As<Napi::String>().Utf8Value();
  } else if (info[4].IsTypedArray()) {
    Napi::TypedArray view = info[4].As<Napi::TypedArray>();
    data.assign(static_cast<const char*>(view.ArrayBuffer().Data()) + view.ByteOffset(), view.ByteLength());
  } else if (info[4].IsArrayBuffer()) {
    Napi::ArrayBuffer buffer = info[4].As<Napi::ArrayBuffer>();
    data.assign(static_cast<const char*>(buffer.Data()), buffer.ByteLength());
  } else {
    return invalidArgument(info.Env(), std::string("body.write: the data must be a string or bytes (Uint8Array), got ") +
                                           typeName(info[4]));
  }
  std::string why;
  if (!stream->writeBody(direction, part, write, data, &why)) return invalidState(info.Env(), "body.write", why);
  return info.Env().Undefined();
}

}  // namespace nodevoy::binding
