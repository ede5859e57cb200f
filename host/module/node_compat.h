// Everything in libnodevoy that differs between the Node/V8 versions it embeds (Node 18, 20, 22,
// 24: Debian's libnode108, libnode115, libnode127, libnode137). The rest of the module is written
// once against these names; a new runtime is supported by teaching this header its differences.
// node_version.h and v8-version.h give NODE_MAJOR_VERSION and V8_MAJOR_VERSION.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <node.h>
#include <node_version.h>
#include <v8-version.h>
#include <v8.h>

namespace nodevoy::compat {

// The runtime this build embeds, as `nodevoy build --runtime` names it (node18, node20, ...).
#define NODEVOY_STR2(x) #x
#define NODEVOY_STR(x) NODEVOY_STR2(x)
inline constexpr const char* kRuntimeName = "node" NODEVOY_STR(NODE_MAJOR_VERSION);
inline constexpr const char* kNodeVersion = NODE_VERSION_STRING;

// node::InitializeOncePerProcess returns a unique_ptr up to Node 20 and a shared_ptr from Node 22.
using InitializationResultPtr = decltype(node::InitializeOncePerProcess(std::declval<const std::vector<std::string>&>()));

// Options every runtime gets, before NODEVOY_NODE_OPTIONS. globalThis.crypto (WebCrypto) is global
// from Node 19 on; Node 18 needs the flag (libraries such as jose 6 rely on it), and later Nodes
// reject the flag as unknown (Node 22 removed it), so only 18 passes it.
inline std::vector<std::string> baseProcessArgs() {
  std::vector<std::string> argv = {"envoy", "--unhandled-rejections=warn", "--no-warnings"};
#if NODE_MAJOR_VERSION < 19
  argv.push_back("--experimental-global-webcrypto");
#endif
  return argv;
}

}  // namespace nodevoy::compat
