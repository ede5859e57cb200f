// Envoy's filter_config bytes for a nodevoy filter, parsed and checked: the JSON object
// {"bundle", "filter", "config", "failOpen", "cpuBudgetMs", "settleTimeoutMs", "timeoutStatus"}
// (a google.protobuf.Struct reaches the module as that JSON; a StringValue holding the JSON — what
// `nodevoy build` writes — reaches it as is). Every refusal names the field and says what to do.
// Pure: no V8, no Envoy; unit-tested in host/tests/filter_config_json_test.cc and fuzzed
// (host/tests/fuzz_config.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nodevoy {

struct FilterConfigFields {
  std::string bundle;       // absolute path of the bundle
  std::string filter;       // the filter's name in the bundle ("" = the only one)
  std::string config_json;  // the filter's own config, as compact JSON ("{}" when absent)
  bool fail_open = false;
  uint32_t cpu_budget_ms = 0;  // 0: the process default (NODEVOY_CPU_BUDGET_MS)
  uint32_t settle_timeout_ms = 30000;
  uint32_t timeout_status = 504;
};

// "" when the bytes are a valid nodevoy filter_config (fields filled), else what is wrong.
std::string parseFilterConfig(std::string_view bytes, FilterConfigFields* out);

}  // namespace nodevoy
