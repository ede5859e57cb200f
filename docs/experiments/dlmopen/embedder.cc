// The embedder half of the dlmopen experiment (docs/symbol-isolation.md): a minimal Node embedding
// (one environment per call, on the calling thread and on threads it starts itself) that a host
// loads with dlopen or into a separate link-map namespace with dlmopen. Exercises what libnodevoy
// uses of libnode's libraries: OpenSSL (hash, pbkdf2 on libuv's thread pool), zlib, brotli, ICU,
// timers.
#include <node.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using HostLog = void (*)(const char*);

std::unique_ptr<node::InitializationResult> initialization;
std::unique_ptr<node::MultiIsolatePlatform> platform;

std::string runEnvironment(const char* source) {
  std::vector<std::string> errors;
  auto setup = node::CommonEnvironmentSetup::Create(platform.get(), &errors, initialization->args(),
                                                    initialization->exec_args(),
                                                    node::EnvironmentFlags::kNoCreateInspector,
                                                    node::AllocateEnvironmentThreadId());
  if (!setup) return "no environment: " + (errors.empty() ? std::string("?") : errors.front());
  v8::Isolate* isolate = setup->isolate();
  v8::Locker locker(isolate);
  v8::Isolate::Scope isolate_scope(isolate);
  v8::HandleScope handle_scope(isolate);
  v8::Context::Scope context_scope(setup->context());
  if (node::LoadEnvironment(setup->env(), source).IsEmpty()) return "LoadEnvironment failed";
  (void)node::SpinEventLoop(setup->env());
  v8::Local<v8::Value> result =
      setup->context()->Global()->Get(setup->context(), v8::String::NewFromUtf8Literal(isolate, "result")).ToLocalChecked();
  v8::String::Utf8Value text(isolate, result);
  return *text != nullptr ? *text : "?";
}

}  // namespace

// Runs `source` in a fresh environment on the calling thread, then on `threads` threads of its own.
extern "C" __attribute__((visibility("default"))) int embedder_run(const char* source, HostLog log, int threads) {
  if (!initialization) {
    using Flags = node::ProcessInitializationFlags::Flags;
    initialization = node::InitializeOncePerProcess(
        {"embedder"}, static_cast<Flags>(node::ProcessInitializationFlags::kNoInitializeV8 |
                                         node::ProcessInitializationFlags::kNoInitializeNodeV8Platform |
                                         node::ProcessInitializationFlags::kNoStdioInitialization |
                                         node::ProcessInitializationFlags::kNoDefaultSignalHandling));
    if (!initialization || !initialization->errors().empty()) return 1;
    platform = node::MultiIsolatePlatform::Create(2);
    v8::V8::InitializePlatform(platform.get());
    v8::V8::Initialize();
  }
  log(("calling thread: " + runEnvironment(source)).c_str());
  std::vector<std::string> results(threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back([&, i] { results[i] = runEnvironment(source); });
  for (auto& worker : workers) worker.join();
  for (int i = 0; i < threads; ++i) log(("own thread " + std::to_string(i) + ": " + results[i]).c_str());
  return 0;
}

// For the cross-namespace free: memory from this namespace's malloc.
extern "C" __attribute__((visibility("default"))) void* embedder_allocate(size_t size) { return malloc(size); }
