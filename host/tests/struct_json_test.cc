// Unit tests of the google.protobuf.Struct decoder and the JSON-or-Struct rule
// (host/module/struct_json.cc). The Struct bytes are built here with a small wire-format writer.
#include "struct_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

namespace nodevoy {
namespace {

// ---- A protobuf wire-format writer for the test inputs ----------------------------------------------

std::string varint(uint64_t value) {
  std::string out;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string tag(uint32_t field, uint32_t wire_type) { return varint((uint64_t(field) << 3) | wire_type); }
std::string delimited(uint32_t field, const std::string& bytes) { return tag(field, 2) + varint(bytes.size()) + bytes; }

// Values (the bytes of one google.protobuf.Value message).
std::string nullValue() { return tag(1, 0) + varint(0); }
std::string numberValue(double number) {
  uint64_t bits;
  memcpy(&bits, &number, sizeof(bits));
  std::string out = tag(2, 1);
  for (int i = 0; i < 8; i++) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  return out;
}
std::string stringValue(const std::string& text) { return delimited(3, text); }
std::string boolValue(bool flag) { return tag(4, 0) + varint(flag ? 1 : 0); }

// A Struct's bytes from (key, Value bytes) pairs, in the given order.
std::string structBytes(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) out += delimited(1, delimited(1, key) + delimited(2, value));
  return out;
}
std::string structValue(const std::vector<std::pair<std::string, std::string>>& fields) {
  return delimited(5, structBytes(fields));
}
std::string listValue(const std::vector<std::string>& values) {
  std::string list;
  for (const auto& value : values) list += delimited(1, value);
  return delimited(6, list);
}

// The same encoding from a JSON value (what the dev host writes for a v1.38 per-route Struct).
std::string encodeValue(const nlohmann::json& value);
std::string encodeStruct(const nlohmann::json& object) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [key, value] : object.items()) fields.emplace_back(key, encodeValue(value));
  return structBytes(fields);
}
std::string encodeValue(const nlohmann::json& value) {
  if (value.is_null()) return nullValue();
  if (value.is_boolean()) return boolValue(value.get<bool>());
  if (value.is_number()) return numberValue(value.get<double>());
  if (value.is_string()) return stringValue(value.get<std::string>());
  if (value.is_object()) return delimited(5, encodeStruct(value));
  std::vector<std::string> items;
  for (const auto& item : value) items.push_back(encodeValue(item));
  return listValue(items);
}

// ---- Helpers ----------------------------------------------------------------------------------------

std::string decoded(const std::string& bytes) {
  std::string json, error;
  EXPECT_TRUE(structBytesToJson(bytes, &json, &error)) << error;
  return json;
}

std::string refused(const std::string& bytes) {
  std::string json, error;
  EXPECT_FALSE(structBytesToJson(bytes, &json, &error)) << "decoded as " << json;
  EXPECT_FALSE(error.empty());
  return error;
}

std::string numberJson(double number) { return decoded(structBytes({{"n", numberValue(number)}})); }

// ---- Value kinds ------------------------------------------------------------------------------------

TEST(StructJson, EmptyStruct) {
  EXPECT_EQ(decoded(""), "{}");
}

TEST(StructJson, EveryValueKind) {
  EXPECT_EQ(decoded(structBytes({{"n", nullValue()}})), R"({"n":null})");
  EXPECT_EQ(decoded(structBytes({{"x", numberValue(200)}})), R"({"x":200})");
  EXPECT_EQ(decoded(structBytes({{"s", stringValue("text")}})), R"({"s":"text"})");
  EXPECT_EQ(decoded(structBytes({{"t", boolValue(true)}, {"f", boolValue(false)}})), R"({"f":false,"t":true})");
  EXPECT_EQ(decoded(structBytes({{"o", structValue({{"k", stringValue("v")}})}})), R"({"o":{"k":"v"}})");
  EXPECT_EQ(decoded(structBytes({{"l", listValue({numberValue(1), stringValue("2"), boolValue(true), nullValue()})}})),
            R"({"l":[1,"2",true,null]})");
}

TEST(StructJson, TheDevHostsBytesForARouteConfig) {
  // What the dev host writes for {k: v} imitating Envoy v1.38 (test/conformance/versions.test.ts).
  EXPECT_EQ(decoded(std::string("\x0a\x08\x0a\x01k\x12\x03\x1a\x01v", 10)), R"({"k":"v"})");
}

TEST(StructJson, EmptyNestedStructAndList) {
  EXPECT_EQ(decoded(structBytes({{"o", structValue({})}, {"l", listValue({})}})), R"({"l":[],"o":{}})");
}

TEST(StructJson, NestingAndLists) {
  const std::string bytes = structBytes({
      {"config", structValue({
                     {"rules", listValue({structValue({{"path", stringValue("/a")}, {"limit", numberValue(5)}}),
                                          structValue({{"path", stringValue("/b")}, {"limit", numberValue(7)}})})},
                     {"matrix", listValue({listValue({numberValue(1), numberValue(2)}), listValue({})})},
                 })},
  });
  EXPECT_EQ(decoded(bytes), R"({"config":{"matrix":[[1,2],[]],"rules":[{"limit":5,"path":"/a"},{"limit":7,"path":"/b"}]}})");
}

TEST(StructJson, MatchesTheJsonTheDevHostWritesForV139) {
  // The dev host's v1.39+ path dumps the same tree with nlohmann (keys sorted, integers bare).
  const auto tree = nlohmann::json::parse(R"({"config":{"zeta":1,"alpha":[true,null,"x",{"deep":{"er":-7}}],
      "scopes":{"/a":["read"],"/b":[]},"limit":2147483647,"neg":-2147483648,"name":"rl"},"bundle":"/b.js"})");
  EXPECT_EQ(decoded(encodeStruct(tree)), tree.dump());
}

// ---- Keys and values as protobuf's printer treats them ------------------------------------------------

TEST(StructJson, KeysInByteOrderTheLastRepeatWins) {
  EXPECT_EQ(decoded(structBytes({{"b", numberValue(1)}, {"a", numberValue(2)}, {"b", numberValue(3)}})),
            R"({"a":2,"b":3})");
}

TEST(StructJson, ValuesWithNoKindAreLeftOut) {
  // An entry with no value, an entry with an empty Value, and an empty Value in a list.
  const std::string no_value = delimited(1, delimited(1, "gone"));
  const std::string bytes = no_value + structBytes({{"empty", ""}, {"list", listValue({"", numberValue(1), ""})}});
  EXPECT_EQ(decoded(bytes), R"({"list":[1]})");
  // A later empty value removes an earlier one of the same key.
  EXPECT_EQ(decoded(structBytes({{"k", numberValue(1)}, {"k", ""}})), "{}");
}

TEST(StructJson, AMissingKeyIsTheEmptyString) {
  EXPECT_EQ(decoded(delimited(1, delimited(2, numberValue(1)))), R"({"":1})");
}

TEST(StructJson, AnyNullValueNumberIsNull) {
  EXPECT_EQ(decoded(structBytes({{"n", tag(1, 0) + varint(7)}})), R"({"n":null})");
}

TEST(StructJson, AnyNonZeroBoolIsTrue) {
  EXPECT_EQ(decoded(structBytes({{"b", tag(4, 0) + varint(2)}})), R"({"b":true})");
}

// ---- Strings ------------------------------------------------------------------------------------------

TEST(StructJson, UnicodeAsIs) {
  const std::string text = "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80 \xE2\x80\xA8";  // é ✓ 😀 U+2028
  EXPECT_EQ(decoded(structBytes({{"\xC3\xBC", stringValue(text)}})), "{\"\xC3\xBC\":\"" + text + "\"}");
}

TEST(StructJson, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string text = std::string("q\" b\\ / \b\f\n\r\t \x01\x1f") + std::string(1, '\0') + "\x7f";
  const std::string json = decoded(structBytes({{"k\"\n", stringValue(text)}}));
  EXPECT_EQ(json, R"({"k\"\n":"q\" b\\ / \b\f\n\r\t \u0001\u001f\u0000)" "\x7f" R"("})");
  // And it reads back as the same strings.
  const auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["k\"\n"].get<std::string>(), text);
}

TEST(StructJson, RefusesInvalidUtf8) {
  EXPECT_NE(refused(structBytes({{"s", stringValue("a\xFF")}})).find("Value.string_value is not valid UTF-8 (byte 0xFF)"),
            std::string::npos);
  EXPECT_NE(refused(structBytes({{"\xC0\xAF", numberValue(1)}})).find("a Struct key is not valid UTF-8"),
            std::string::npos);                                            // overlong '/'
  refused(structBytes({{"s", stringValue("\xED\xA0\x80")}}));              // a UTF-16 surrogate
  refused(structBytes({{"s", stringValue("\xF4\x90\x80\x80")}}));          // above U+10FFFF
  refused(structBytes({{"s", stringValue("\xE2\x9C")}}));                  // cut short
}

// ---- Numbers ------------------------------------------------------------------------------------------

TEST(StructJson, IntegralNumbersHaveNoFraction) {
  EXPECT_EQ(numberJson(200), R"({"n":200})");
  EXPECT_EQ(numberJson(-3), R"({"n":-3})");
  EXPECT_EQ(numberJson(0), R"({"n":0})");
  EXPECT_EQ(numberJson(1000000), R"({"n":1000000})");
  EXPECT_EQ(numberJson(2147483648.0), R"({"n":2147483648})");
  EXPECT_EQ(numberJson(9007199254740992.0), R"({"n":9007199254740992})");  // 2^53, 16 digits: %.17g
}

TEST(StructJson, FractionalAndLargeNumbersAsProtobufPrintsThem) {
  EXPECT_EQ(numberJson(0.25), R"({"n":0.25})");
  EXPECT_EQ(numberJson(0.1), R"({"n":0.1})");
  EXPECT_EQ(numberJson(-1.5), R"({"n":-1.5})");
  EXPECT_EQ(numberJson(1.0 / 3), R"({"n":0.33333333333333331})");
  EXPECT_EQ(numberJson(1e21), R"({"n":1e+21})");
  EXPECT_EQ(numberJson(1e-7), R"({"n":1e-07})");
  EXPECT_EQ(numberJson(-0.0), R"({"n":-0})");
  EXPECT_EQ(numberJson(std::numeric_limits<double>::max()), R"({"n":1.7976931348623157e+308})");
  EXPECT_EQ(numberJson(std::numeric_limits<double>::denorm_min()), R"({"n":4.94065645841247e-324})");  // 15 digits read back
  for (double number : {0.1, 1.0 / 3, 123456.789, 6.02214076e23, -2.5e-300}) {
    EXPECT_EQ(nlohmann::json::parse(numberJson(number))["n"].get<double>(), number) << "round trip of " << number;
  }
}

TEST(StructJson, RefusesNaNAndInfinity) {
  const std::string nan = refused(structBytes({{"n", numberValue(std::nan(""))}}));
  EXPECT_EQ(nan, "at byte 7 (n): Value.number_value is NaN, which JSON cannot hold (protobuf's JSON printer refuses it too)");
  EXPECT_NE(refused(structBytes({{"n", numberValue(std::numeric_limits<double>::infinity())}})).find("is Infinity"),
            std::string::npos);
  EXPECT_NE(refused(structBytes({{"l", listValue({numberValue(-std::numeric_limits<double>::infinity())})}}))
                .find("(l[0]): Value.number_value is Infinity"),
            std::string::npos);
}

// ---- Malformed bytes ----------------------------------------------------------------------------------

TEST(StructJson, TruncatedInputs) {
  EXPECT_EQ(refused(std::string("\x0a\x80", 2)), "at byte 1: truncated varint (Struct.fields entry)");
  EXPECT_EQ(refused(std::string("\x0a\x05\x0a\x01k", 5)),
            "at byte 1: truncated Struct.fields entry: length 5, 3 bytes left");
  EXPECT_EQ(refused(std::string("\x8a", 1)), "at byte 0: truncated varint (field tag)");
  // number_value cut short, inside a nested struct.
  const std::string cut = structBytes({{"o", delimited(5, structBytes({{"n", tag(2, 1) + "\x01\x02"}}))}});
  EXPECT_EQ(refused(cut), "at byte 16 (o.n): truncated Value.number_value: needs 8 bytes");
  // Every proper prefix of a valid Struct is refused or decodes, never crashes.
  const std::string whole = encodeStruct(nlohmann::json::parse(R"({"a":[1,{"b":"c"}],"d":0.5,"e":null})"));
  for (size_t n = 0; n < whole.size(); n++) {
    std::string json, error;
    if (!structBytesToJson(whole.substr(0, n), &json, &error)) {
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(StructJson, WrongWireTypes) {
  EXPECT_EQ(refused(tag(1, 0) + varint(1)),
            "at byte 0: Struct.fields (field 1) has wire type varint, expected length-delimited");
  EXPECT_EQ(refused(structBytes({{"n", tag(2, 0) + varint(1)}})),
            "at byte 7 (n): Value.number_value (field 2) has wire type varint, expected fixed64");
  EXPECT_EQ(refused(structBytes({{"b", tag(4, 2) + varint(0)}})),
            "at byte 7 (b): Value.bool_value (field 4) has wire type length-delimited, expected varint");
  EXPECT_NE(refused(structBytes({{"g", tag(5, 3)}})).find("start-group, expected length-delimited"), std::string::npos);
  EXPECT_NE(refused(delimited(1, tag(1, 5) + "abcd")).find("Struct.fields key (field 1) has wire type fixed32"),
            std::string::npos);
}

TEST(StructJson, UnknownFieldsAndRepeatsAreRefused) {
  EXPECT_EQ(refused(delimited(2, "x")), "at byte 0: google.protobuf.Struct has no field 2");
  EXPECT_EQ(refused(structBytes({{"v", tag(7, 0) + varint(0)}})), "at byte 7 (v): google.protobuf.Value has no field 7");
  EXPECT_EQ(refused(delimited(1, delimited(1, "k") + tag(3, 0) + varint(0))),
            "at byte 5: a Struct.fields entry has no field 3 (only 1, key, and 2, value)");
  EXPECT_EQ(refused(structBytes({{"v", stringValue("a") + numberValue(1)}})),
            "at byte 10 (v): a google.protobuf.Value sets two kinds, string_value and number_value");
  EXPECT_NE(refused(structBytes({{"v", boolValue(true) + boolValue(false)}})).find("repeats Value.bool_value"),
            std::string::npos);
  EXPECT_NE(refused(delimited(1, delimited(1, "a") + delimited(1, "b"))).find("entry has two keys"), std::string::npos);
  EXPECT_NE(refused(structBytes({{"l", delimited(6, delimited(2, nullValue()))}})).find("(l): google.protobuf.ListValue has no field 2"),
            std::string::npos);
  EXPECT_EQ(refused(tag(0, 2) + varint(0)), "at byte 0: invalid field number 0");
}

TEST(StructJson, OverlongVarints) {
  EXPECT_EQ(refused(std::string("\x0a") + std::string(10, '\xff') + "\x01"),
            "at byte 1: varint overflows 64 bits (Struct.fields entry)");
  EXPECT_EQ(refused(std::string("\x0a") + std::string(9, '\xff') + "\x81\x00"),
            "at byte 1: varint overflows 64 bits (Struct.fields entry)");  // an 11th byte
  // A 64-bit length far beyond the input.
  EXPECT_NE(refused(std::string("\x0a") + std::string(9, '\xff') + "\x01").find("truncated Struct.fields entry: length 18446744073709551615"),
            std::string::npos);
}

// Structs (and lists) nested `levels` deep, innermost {"leaf":true}.
std::string nested(int levels, bool lists) {
  std::string value = boolValue(true);
  std::string inner = structBytes({{"leaf", value}});
  for (int level = 1; level < levels; level++) {
    inner = lists && level % 2 ? structBytes({{"k", delimited(6, delimited(1, delimited(5, inner)))}})
                               : structBytes({{"k", delimited(5, inner)}});
  }
  return inner;
}

TEST(StructJson, NestingIsCapped) {
  std::string json, error;
  ASSERT_TRUE(structBytesToJson(nested(kMaxStructNesting, false), &json, &error)) << error;
  EXPECT_EQ(nlohmann::json::parse(json).dump(), json);
  const std::string too_deep = refused(nested(kMaxStructNesting + 1, false));
  EXPECT_NE(too_deep.find("Structs and lists nest deeper than 100 levels"), std::string::npos) << too_deep;
  EXPECT_NE(too_deep.find("(k.k.k."), std::string::npos) << too_deep;
  // Lists count as levels too.
  EXPECT_NE(refused(nested(80, true)).find("nest deeper than 100"), std::string::npos);
  // Headers of deep nesting whose lengths point past the end: refused at the first one.
  std::string hostile;
  for (int i = 0; i < 100000; i++) hostile += std::string("\x0a\x80\x80\x80\x01\x12\x80\x80\x80\x01\x2a\x80\x80\x80\x01", 15);
  EXPECT_NE(refused(hostile).find("truncated"), std::string::npos);  // lengths point past the end: caught first
  std::string deep_empty = "";
  for (int i = 0; i < 2000; i++) deep_empty = std::string("\x2a") + varint(deep_empty.size()) + deep_empty,
                                   deep_empty = delimited(1, delimited(2, deep_empty));
  EXPECT_NE(refused(deep_empty).find("nest deeper than 100"), std::string::npos);
}

TEST(StructJson, RandomCorruptionsNeverCrash) {
  // Every decoded result is valid JSON; every refusal says why.
  const std::string whole = encodeStruct(nlohmann::json::parse(
      R"({"config":{"rules":[{"path":"/a","limit":5.5},{"path":"/\u00e9","on":true}],"x":null},"bundle":"/b.js"})"));
  std::mt19937 random(1234);
  int decoded_count = 0;
  for (int round = 0; round < 20000; round++) {
    std::string bytes = whole;
    const int edits = 1 + random() % 4;
    for (int e = 0; e < edits; e++) {
      const size_t at = random() % bytes.size();
      switch (random() % 3) {
        case 0: bytes[at] = static_cast<char>(random()); break;
        case 1: bytes.erase(at, 1 + random() % 3); break;
        case 2: bytes.insert(at, 1, static_cast<char>(random())); break;
      }
      if (bytes.empty()) bytes = "\x0a";
    }
    std::string json, error;
    if (structBytesToJson(bytes, &json, &error)) {
      decoded_count++;
      EXPECT_TRUE(nlohmann::json::accept(json)) << json;
    } else {
      EXPECT_EQ(error.rfind("at byte ", 0), 0u) << error;
    }
  }
  EXPECT_GT(decoded_count, 0);
}

// ---- JSON or Struct -----------------------------------------------------------------------------------

std::string asJson(const std::string& bytes) {
  std::string json, error;
  EXPECT_TRUE(configBytesAsJson(bytes, &json, &error)) << error;
  return json;
}

std::string notConfig(const std::string& bytes) {
  std::string json, error;
  EXPECT_FALSE(configBytesAsJson(bytes, &json, &error)) << "read as " << json;
  return error;
}

TEST(ConfigBytesAsJson, JsonTextIsKeptAsIs) {
  EXPECT_EQ(asJson(R"({"config": {"b": 1, "a": 2.0}})"), R"({"config": {"b": 1, "a": 2.0}})");
  // Leading whitespace, including the newline 0x0A a Struct also starts with.
  EXPECT_EQ(asJson("\n{\"config\":{}}\n"), "\n{\"config\":{}}\n");
  EXPECT_EQ(asJson("\n\n {\"config\":{}}"), "\n\n {\"config\":{}}");
  EXPECT_EQ(asJson(" []"), " []");  // not an object: refused later, by the config's own checks
}

TEST(ConfigBytesAsJson, EmptyIsAnEmptyObject) { EXPECT_EQ(asJson(""), "{}"); }

TEST(ConfigBytesAsJson, StructBytesAreDecoded) {
  const auto tree = nlohmann::json::parse(R"({"config":{"limit":3,"scopes":["read","write"]},"filter":"rl"})");
  EXPECT_EQ(asJson(encodeStruct(tree)), tree.dump());
}

TEST(ConfigBytesAsJson, NeitherSaysWhatIsWrongBothWays) {
  const std::string not_json = notConfig("config: {}");
  EXPECT_EQ(not_json.rfind("filter_config is not JSON (use a google.protobuf.Struct, or a StringValue holding JSON): ", 0), 0u)
      << not_json;
  const std::string neither = notConfig(structBytes({{"n", numberValue(std::nan(""))}}));
  EXPECT_EQ(neither.rfind("filter_config is neither a serialized google.protobuf.Struct", 0), 0u) << neither;
  EXPECT_NE(neither.find("as a Struct, at byte 7 (n): Value.number_value is NaN"), std::string::npos) << neither;
  EXPECT_NE(neither.find("; as JSON, [json.exception.parse_error"), std::string::npos) << neither;
  EXPECT_NE(neither.find("Give a google.protobuf.Struct, or a StringValue holding JSON"), std::string::npos) << neither;
  // A JSON text that starts with a newline but is broken: both readings named.
  const std::string broken = notConfig("\n{\"config\": ");
  EXPECT_NE(broken.find("as a Struct, at byte"), std::string::npos) << broken;
  EXPECT_NE(broken.find("as JSON,"), std::string::npos) << broken;
}

}  // namespace
}  // namespace nodevoy
