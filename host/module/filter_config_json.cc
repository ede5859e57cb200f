#include "filter_config_json.h"

#include <nlohmann/json.hpp>

#include "contract.gen.h"

namespace nodevoy {

namespace {

// An integer field within [low, high], when present.
bool integerField(const nlohmann::json& parsed, const char* field, uint32_t low, uint32_t high, uint32_t* out,
                  std::string* error) {
  if (!parsed.contains(field)) return true;
  const auto& value = parsed[field];
  const bool integral = value.is_number_integer();
  const double number = value.is_number() ? value.get<double>() : 0;
  if (!integral || number < low || number > high) {
    *error = std::string("filter_config.") + field + ": must be an integer " + std::to_string(low) + ".." +
             std::to_string(high);
    return false;
  }
  *out = static_cast<uint32_t>(number);
  return true;
}

}  // namespace

std::string parseFilterConfig(std::string_view bytes, FilterConfigFields* out) {
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(bytes.empty() ? std::string_view("{}") : bytes);
  } catch (const nlohmann::json::exception& e) {
    return std::string("filter_config is not JSON (give a google.protobuf.Struct, or a StringValue holding JSON as "
                       "`nodevoy build` writes): ") +
           e.what();
  }
  if (!parsed.is_object()) {
    return "filter_config must be an object: {\"bundle\": \"/path/to/bundle.js\", \"filter\": \"name\", \"config\": {...}}";
  }
  std::string expected;
  for (const char* field : contract::kFilterConfigFields) expected += (expected.empty() ? "" : ", ") + std::string(field);
  for (const auto& [key, value] : parsed.items()) {
    bool known = false;
    for (const char* field : contract::kFilterConfigFields) known = known || key == field;
    if (!known) return "filter_config." + key + ": unknown field (expected " + expected + ")";
  }
  if (!parsed.contains("bundle") || !parsed["bundle"].is_string() || parsed["bundle"].get<std::string>().empty()) {
    return "filter_config.bundle: required, the absolute path of the bundle that `nodevoy build` wrote";
  }
  out->bundle = parsed["bundle"].get<std::string>();
  if (out->bundle[0] != '/') return "filter_config.bundle: must be an absolute path, got " + parsed["bundle"].dump();
  if (parsed.contains("filter")) {
    if (!parsed["filter"].is_string()) return "filter_config.filter: must be a string, the name given to defineFilter()";
    out->filter = parsed["filter"].get<std::string>();
  }
  if (parsed.contains("failOpen")) {
    if (!parsed["failOpen"].is_boolean()) return "filter_config.failOpen: must be true or false";
    out->fail_open = parsed["failOpen"].get<bool>();
  }
  out->config_json = parsed.contains("config") ? parsed["config"].dump() : "{}";
  std::string error;
  if (!integerField(parsed, "cpuBudgetMs", 1, 600000, &out->cpu_budget_ms, &error) ||
      !integerField(parsed, "settleTimeoutMs", 1, 86400000, &out->settle_timeout_ms, &error) ||
      !integerField(parsed, "timeoutStatus", 500, 504, &out->timeout_status, &error)) {
    return error;
  }
  if (out->timeout_status != 500 && out->timeout_status != 503 && out->timeout_status != 504) {
    return "filter_config.timeoutStatus: must be 500, 503 or 504";
  }
  return "";
}

}  // namespace nodevoy
