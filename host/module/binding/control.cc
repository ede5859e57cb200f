// Stream control binding functions: local replies, settling and continuing hooks, stream identity. W.
#include <vector>

#include "binding.h"
#include "envoy_api.h"
#include "header_rules.h"
#include "stream.h"
#include "worker_env.h"

namespace nodevoy::binding {

namespace {
bool directionArg(const Napi::Value& value, contract::Direction* out) {
  if (!value.IsNumber()) return false;
  const int raw = value.As<Napi::Number>().Int32Value();
  if (raw != static_cast<int>(contract::Direction::Request) && raw != static_cast<int>(contract::Direction::Response)) {
    return false;
  }
  *out = static_cast<contract::Direction>(raw);
  return true;
}
}  // namespace

// (token, status, body: string | bytes | null, headers: [name, value, ...], details: string). Everything
// is checked before anything changes: a refused reply leaves the stream as it was.
Napi::Value sendLocalReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Stream* stream = writableStreamOf(info, "sendLocalReply");
  if (stream == nullptr) return env.Undefined();
  if (stream->replied()) {
    return throwCoded(env, "NodevoyError", "NODEVOY_ERR_ALREADY_REPLIED", "sendLocalReply: this stream was already answered");
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
  stream->markReplied();
  envoy.http_send_response(stream->envoyFilter(), static_cast<uint32_t>(status_number), headers.data(), headers.size(),
                           nv_module_buffer{body.data(), body.size()}, nv_module_buffer{details.data(), details.size()});
  return env.Undefined();
}



// (token, direction, action): a hook of that direction went Pending and settled.
Napi::Value resume(const Napi::CallbackInfo& info) {
  WorkerEnv* env = envOf(info);
  if (!env->onWorkerThread()) {
    return throwCoded(info.Env(), "WrongThreadError", "NODEVOY_ERR_WRONG_THREAD", "resume: called off the stream's worker");
  }
  contract::Direction direction;
  if (!info[0].IsNumber() || !directionArg(info[1], &direction) || !info[2].IsNumber()) {
    return invalidArgument(info.Env(), "resume: bad arguments");
  }
  Stream* stream = env->lookup(info[0].As<Napi::Number>().DoubleValue());
  if (stream == nullptr) return info.Env().Undefined();  // the stream is gone: nothing to resume
  stream->settle(direction, info[2].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// (token, direction): continueRequest()/continueResponse().
Napi::Value continueStream(const Napi::CallbackInfo& info) {
  Stream* stream = writableStreamOf(info, "continue");
  if (stream == nullptr) return info.Env().Undefined();
  contract::Direction direction;
  if (!directionArg(info[1], &direction)) return invalidArgument(info.Env(), "continue: bad direction");
  stream->continueDirection(direction);
  return info.Env().Undefined();
}

// (token): onStreamComplete must reach the SDK (a signal to abort, a read to reject).
Napi::Value notifyComplete(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "notifyComplete", false);
  if (stream == nullptr) return info.Env().Undefined();
  stream->notifyComplete();
  return info.Env().Undefined();
}

// (token, direction): the SDK's settle timer fired for the direction's held hook.
Napi::Value timeoutStream(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "timeout", false);
  if (stream == nullptr) return info.Env().Undefined();
  contract::Direction direction;
  if (!directionArg(info[1], &direction)) return invalidArgument(info.Env(), "timeout: bad direction");
  return Napi::Boolean::New(info.Env(), stream->timeOut(direction));
}

// (token) -> [streamId, workerIndex]
Napi::Value streamInfo(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "streamInfo");
  if (stream == nullptr) return info.Env().Undefined();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(stream->id())));
  out.Set(1u, Napi::Number::New(info.Env(), stream->env().index()));
  return out;
}

// (token) -> [crossings, bytesCopied]
Napi::Value counters(const Napi::CallbackInfo& info) {
  Stream* stream = streamOf(info, "dataPathStats", false);
  if (stream == nullptr) return info.Env().Undefined();
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(stream->crossings())));
  out.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(stream->bytesCopied())));
  return out;
}

}  // namespace nodevoy::binding
