// Unit tests of filter_config parsing (host/module/filter_config_json.cc).
#include "filter_config_json.h"

#include <gtest/gtest.h>

namespace nodevoy {
namespace {

std::string parse(std::string_view json, FilterConfigFields* out = nullptr) {
  FilterConfigFields fields;
  std::string problem = parseFilterConfig(json, out ? out : &fields);
  return problem;
}

TEST(FilterConfigJson, AllFields) {
  FilterConfigFields f;
  ASSERT_EQ(parse(R"({"bundle":"/b.js","filter":"auth","config":{"b":1,"a":[true]},"failOpen":true,)"
                  R"("cpuBudgetMs":20,"settleTimeoutMs":5000,"timeoutStatus":503})",
                  &f),
            "");
  EXPECT_EQ(f.bundle, "/b.js");
  EXPECT_EQ(f.filter, "auth");
  EXPECT_EQ(f.config_json, R"({"a":[true],"b":1})");
  EXPECT_TRUE(f.fail_open);
  EXPECT_EQ(f.cpu_budget_ms, 20u);
  EXPECT_EQ(f.settle_timeout_ms, 5000u);
  EXPECT_EQ(f.timeout_status, 503u);
}

TEST(FilterConfigJson, Defaults) {
  FilterConfigFields f;
  ASSERT_EQ(parse(R"({"bundle":"/b.js"})", &f), "");
  EXPECT_EQ(f.filter, "");
  EXPECT_EQ(f.config_json, "{}");
  EXPECT_FALSE(f.fail_open);
  EXPECT_EQ(f.cpu_budget_ms, 0u);
  EXPECT_EQ(f.settle_timeout_ms, 30000u);
  EXPECT_EQ(f.timeout_status, 504u);
}

TEST(FilterConfigJson, RefusalsNameTheField) {
  EXPECT_NE(parse("{").find("filter_config is not JSON"), std::string::npos);
  EXPECT_NE(parse("[]").find("must be an object"), std::string::npos);
  EXPECT_NE(parse(R"({"bundle":"/b","typo":1})").find("filter_config.typo: unknown field"), std::string::npos);
  EXPECT_NE(parse(R"({})").find("filter_config.bundle: required"), std::string::npos);
  EXPECT_NE(parse(R"({"bundle":"b.js"})").find("must be an absolute path"), std::string::npos);
  EXPECT_NE(parse(R"({"bundle":"/b","filter":1})").find("filter_config.filter"), std::string::npos);
  EXPECT_NE(parse(R"({"bundle":"/b","failOpen":"yes"})").find("filter_config.failOpen"), std::string::npos);
  for (const char* bad : {R"(0)", R"(-5)", R"(1.5)", R"(1e10)", R"("10")", R"(18446744073709551615)"}) {
    EXPECT_NE(parse(std::string(R"({"bundle":"/b","cpuBudgetMs":)") + bad + "}").find("filter_config.cpuBudgetMs"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(parse(R"({"bundle":"/b","timeoutStatus":502})").find("500, 503 or 504"), std::string::npos);
}

}  // namespace
}  // namespace nodevoy
