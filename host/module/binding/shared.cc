// Shared-state binding functions (issue 10): the process-wide store (shared_store.h), shared by every
// worker's environment. L (any thread holding its environment's isolate); each call holds one shard
// lock for one lookup.
#include <cmath>

#include "binding.h"
#include "shared_store.h"

namespace nodevoy::binding {

namespace {

constexpr size_t kMaxKeyBytes = 4096;

bool keyArg(const Napi::Value& value, const char* operation, std::string* key) {
  if (!value.IsString()) {
    invalidArgument(value.Env(), std::string(operation) + ": the key must be a string, got " + typeName(value));
    return false;
  }
  *key = value.As<Napi::String>().Utf8Value();
  if (key->empty() || key->size() > kMaxKeyBytes) {
    invalidArgument(value.Env(), std::string(operation) + ": the key must be 1.." + std::to_string(kMaxKeyBytes) +
                                     " bytes (UTF-8)");
    return false;
  }
  return true;
}

bool valueArg(const Napi::Value& value, const char* operation, SharedStore::Value* out) {
  if (value.IsString()) {
    *out = SharedStore::Value::ofString(value.As<Napi::String>().Utf8Value());
    return true;
  }
  if (value.IsNumber()) {
    const double number = value.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(number)) {
      invalidArgument(value.Env(), std::string(operation) + ": the value must be a finite number or a string");
      return false;
    }
    *out = SharedStore::Value::ofNumber(number);
    return true;
  }
  invalidArgument(value.Env(), std::string(operation) + ": the value must be a string or a number, got " +
                                   typeName(value));
  return false;
}

// Milliseconds; 0 (or undefined) for no expiry.
bool ttlArg(const Napi::Value& value, const char* operation, int64_t* ttl) {
  if (value.IsUndefined()) {
    *ttl = 0;
    return true;
  }
  const double raw = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!std::isfinite(raw) || raw < 0) {
    invalidArgument(value.Env(), std::string(operation) + ": ttlMs must be a number of milliseconds >= 0");
    return false;
  }
  *ttl = static_cast<int64_t>(std::ceil(raw));
  return true;
}

Napi::Value toJs(Napi::Env env, const SharedStore::Value& value) {
  if (value.type == SharedStore::Value::Type::Number) return Napi::Number::New(env, value.number);
  return Napi::String::New(env, value.text);
}

Napi::Value tooLarge(Napi::Env env, const char* operation) {
  return invalidArgument(env, std::string(operation) + ": the entry is larger than the shared store allows per entry (" +
                                  std::to_string(SharedStore::process().maxBytes() / SharedStore::kShards) +
                                  " bytes; raise NODEVOY_SHARED_MAX_BYTES in the proxy's environment)");
}

}  // namespace

// (key) -> string | number | undefined
Napi::Value sharedGet(const Napi::CallbackInfo& info) {
  std::string key;
  if (!keyArg(info[0], "shared.get", &key)) return info.Env().Undefined();
  SharedStore::Value value;
  if (!SharedStore::process().get(key, &value, SharedStore::nowMs())) return info.Env().Undefined();
  return toJs(info.Env(), value);
}

// (key, value, ttlMs)
Napi::Value sharedSet(const Napi::CallbackInfo& info) {
  std::string key;
  SharedStore::Value value;
  int64_t ttl;
  if (!keyArg(info[0], "shared.set", &key) || !valueArg(info[1], "shared.set", &value) ||
      !ttlArg(info[2], "shared.set", &ttl)) {
    return info.Env().Undefined();
  }
  if (SharedStore::process().set(key, value, ttl, SharedStore::nowMs()) == SharedStore::Status::TooLarge) {
    return tooLarge(info.Env(), "shared.set");
  }
  return info.Env().Undefined();
}

// (key, delta, ttlMs) -> the new value
Napi::Value sharedIncrement(const Napi::CallbackInfo& info) {
  std::string key;
  int64_t ttl;
  if (!keyArg(info[0], "shared.increment", &key) || !ttlArg(info[2], "shared.increment", &ttl)) {
    return info.Env().Undefined();
  }
  const double delta = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(delta)) return invalidArgument(info.Env(), "shared.increment: the delta must be a finite number");
  double result = 0;
  switch (SharedStore::process().increment(key, delta, ttl, SharedStore::nowMs(), &result)) {
    case SharedStore::Status::Ok: return Napi::Number::New(info.Env(), result);
    case SharedStore::Status::NotANumber:
      return throwCoded(info.Env(), "NodevoyError", "NODEVOY_ERR_INVALID_STATE",
                        "shared.increment: the key holds a string, not a number");
    case SharedStore::Status::TooLarge: return tooLarge(info.Env(), "shared.increment");
  }
  return info.Env().Undefined();
}

// (key, expected | undefined, value, ttlMs) -> whether it was written
Napi::Value sharedCompareAndSet(const Napi::CallbackInfo& info) {
  std::string key;
  SharedStore::Value expected, desired;
  int64_t ttl;
  const bool expect_absent = info[1].IsUndefined();
  if (!keyArg(info[0], "shared.compareAndSet", &key) ||
      (!expect_absent && !valueArg(info[1], "shared.compareAndSet", &expected)) ||
      !valueArg(info[2], "shared.compareAndSet", &desired) || !ttlArg(info[3], "shared.compareAndSet", &ttl)) {
    return info.Env().Undefined();
  }
  bool swapped = false;
  if (SharedStore::process().compareAndSet(key, expect_absent ? nullptr : &expected, desired, ttl, SharedStore::nowMs(),
                                           &swapped) == SharedStore::Status::TooLarge) {
    return tooLarge(info.Env(), "shared.compareAndSet");
  }
  return Napi::Boolean::New(info.Env(), swapped);
}

// (key) -> whether it existed
Napi::Value sharedDelete(const Napi::CallbackInfo& info) {
  std::string key;
  if (!keyArg(info[0], "shared.delete", &key)) return info.Env().Undefined();
  return Napi::Boolean::New(info.Env(), SharedStore::process().remove(key));
}

}  // namespace nodevoy::binding
