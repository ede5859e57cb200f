#include "struct_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nodevoy {

namespace {

// Protobuf wire types (the low 3 bits of a tag).
constexpr uint32_t kVarint = 0;
constexpr uint32_t kFixed64 = 1;
constexpr uint32_t kLengthDelimited = 2;

const char* wireTypeName(uint32_t wire_type) {
  switch (wire_type) {
    case 0: return "varint";
    case 1: return "fixed64";
    case 2: return "length-delimited";
    case 3: return "start-group";
    case 4: return "end-group";
    case 5: return "fixed32";
    default: return "invalid";
  }
}

// google.protobuf.Value's oneof `kind`, by field number: its name and the wire type it must have.
struct ValueKind {
  const char* name;
  uint32_t wire_type;
};
constexpr ValueKind kValueKinds[7] = {
    {nullptr, 0},
    {"null_value", kVarint},
    {"number_value", kFixed64},
    {"string_value", kLengthDelimited},
    {"bool_value", kVarint},
    {"struct_value", kLengthDelimited},
    {"list_value", kLengthDelimited},
};

// A bounded view of the bytes still to read in one message.
struct Span {
  const uint8_t* pos;
  const uint8_t* end;
  bool empty() const { return pos >= end; }
};

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlong forms, UTF-16
// surrogates and code points above U+10FFFF are not UTF-8).
size_t utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t code;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; k++) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  if ((length == 3 && code < 0x800) || (length == 4 && code < 0x10000) || code > 0x10FFFF ||
      (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// Appends `text` (already checked to be UTF-8) as a JSON string: quotes, backslashes and control
// characters escaped, everything else as is.
void appendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (byte < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[byte >> 4]);
          out->push_back(kHex[byte & 0xF]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// A finite double as protobuf's JSON printer writes it (printf "%.15g", or "%.17g" when 15
// significant digits do not read back as the same double), without depending on the C locale.
void appendJsonNumber(double number, std::string* out) {
  char text[64];
  for (const int precision : {15, 17}) {
    const auto written = std::to_chars(text, text + sizeof(text), number, std::chars_format::general, precision);
    double back = 0;
    std::from_chars(text, written.ptr, back);
    if (back == number || precision == 17) {
      out->append(text, written.ptr);
      return;
    }
  }
}

class StructDecoder {
 public:
  explicit StructDecoder(std::string_view bytes)
      : begin_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(begin_ + bytes.size()) {}

  bool decode(std::string* json) { return readStruct(Span{begin_, end_}, 1, json); }
  const std::string& error() const { return error_; }

 private:
  bool fail(const uint8_t* at, const std::string& what) {
    error_ = "at byte " + std::to_string(at - begin_);
    if (!path_.empty()) {
      std::string path;
      for (const auto& segment : path_) path += segment;
      error_ += " (" + (path[0] == '.' ? path.substr(1) : path) + ")";
    }
    error_ += ": " + what;
    return false;
  }

  bool readVarint(Span& span, uint64_t* value, const char* what) {
    const uint8_t* start = span.pos;
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (span.empty()) return fail(start, std::string("truncated varint (") + what + ")");
      const uint8_t byte = *span.pos++;
      // The 10th byte may only add bit 63, and must end the varint.
      if (shift == 63 && byte > 1) return fail(start, std::string("varint overflows 64 bits (") + what + ")");
      result |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return fail(start, std::string("varint overflows 64 bits (") + what + ")");  // not reached
  }

  bool readTag(Span& span, const uint8_t** at, uint32_t* field, uint32_t* wire_type) {
    *at = span.pos;
    uint64_t tag;
    if (!readVarint(span, &tag, "field tag")) return false;
    *field = static_cast<uint32_t>(tag >> 3);
    *wire_type = static_cast<uint32_t>(tag & 7);
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFF) return fail(*at, "invalid field number " + std::to_string(tag >> 3));
    return true;
  }

  bool expectWireType(const uint8_t* at, const char* field_name, uint32_t field, uint32_t wire_type,
                      uint32_t expected) {
    if (wire_type == expected) return true;
    return fail(at, std::string(field_name) + " (field " + std::to_string(field) + ") has wire type " +
                        wireTypeName(wire_type) + ", expected " + wireTypeName(expected));
  }

  // A length-delimited field's contents: *inner spans them, `span` moves past them.
  bool readLengthDelimited(Span& span, Span* inner, const char* what) {
    const uint8_t* at = span.pos;
    uint64_t length;
    if (!readVarint(span, &length, what)) return false;
    const auto left = static_cast<uint64_t>(span.end - span.pos);
    if (length > left) {
      return fail(at, std::string("truncated ") + what + ": length " + std::to_string(length) + ", " +
                          std::to_string(left) + " bytes left");
    }
    *inner = Span{span.pos, span.pos + length};
    span.pos += length;
    return true;
  }

  bool readUtf8(const Span& span, const char* what, std::string_view* text) {
    *text = std::string_view(reinterpret_cast<const char*>(span.pos), span.end - span.pos);
    for (size_t i = 0; i < text->size();) {
      const size_t length = utf8SequenceLength(*text, i);
      if (length == 0) {
        char hex[8];
        snprintf(hex, sizeof(hex), "0x%02X", static_cast<uint8_t>((*text)[i]));
        return fail(span.pos + i, std::string(what) + " is not valid UTF-8 (byte " + hex + ")");
      }
      i += length;
    }
    return true;
  }

  bool enter(const uint8_t* at, int depth) {
    if (depth <= kMaxStructNesting) return true;
    return fail(at, "Structs and lists nest deeper than " + std::to_string(kMaxStructNesting) + " levels");
  }

  // The next element of a message whose only field is `repeated <message> = 1` (Struct's fields,
  // ListValue's values); false after failing on any other field or wire type.
  bool readRepeatedMessage(Span& span, const char* message, const char* field_name, const char* element, Span* out) {
    const uint8_t* at;
    uint32_t field, wire_type;
    if (!readTag(span, &at, &field, &wire_type)) return false;
    if (field != 1) return fail(at, std::string(message) + " has no field " + std::to_string(field));
    if (!expectWireType(at, field_name, field, wire_type, kLengthDelimited)) return false;
    return readLengthDelimited(span, out, element);
  }

  // google.protobuf.Struct { map<string, Value> fields = 1; }
  bool readStruct(Span span, int depth, std::string* json) {
    if (!enter(span.pos, depth)) return false;
    std::map<std::string, std::string, std::less<>> members;  // key -> the value's JSON
    while (!span.empty()) {
      Span entry;
      if (!readRepeatedMessage(span, "google.protobuf.Struct", "Struct.fields", "Struct.fields entry", &entry)) return false;
      if (!readMapEntry(entry, depth, &members)) return false;
    }
    json->push_back('{');
    bool first = true;
    for (const auto& [key, value] : members) {
      if (!first) json->push_back(',');
      first = false;
      appendJsonString(key, json);
      json->push_back(':');
      *json += value;
    }
    json->push_back('}');
    return true;
  }

  // A map entry { string key = 1; Value value = 2; }. A missing key is ""; a missing or empty value
  // leaves the key out, as protobuf's printer does.
  bool readMapEntry(Span entry, int depth, std::map<std::string, std::string, std::less<>>* members) {
    std::string_view key;
    const uint8_t* key_at = nullptr;
    Span value{nullptr, nullptr};
    const uint8_t* value_at = nullptr;
    while (!entry.empty()) {
      const uint8_t* at;
      uint32_t field, wire_type;
      if (!readTag(entry, &at, &field, &wire_type)) return false;
      if (field == 1) {
        if (!expectWireType(at, "Struct.fields key", field, wire_type, kLengthDelimited)) return false;
        if (key_at != nullptr) return fail(at, "a Struct.fields entry has two keys");
        Span text;
        if (!readLengthDelimited(entry, &text, "Struct.fields key")) return false;
        if (!readUtf8(text, "a Struct key", &key)) return false;
        key_at = at;
      } else if (field == 2) {
        if (!expectWireType(at, "Struct.fields value", field, wire_type, kLengthDelimited)) return false;
        if (value_at != nullptr) return fail(at, "a Struct.fields entry has two values");
        if (!readLengthDelimited(entry, &value, "Struct.fields value")) return false;
        value_at = at;
      } else {
        return fail(at, "a Struct.fields entry has no field " + std::to_string(field) + " (only 1, key, and 2, value)");
      }
    }
    if (value_at == nullptr) {
      members->erase(std::string(key));
      return true;
    }
    path_.push_back(".");
    path_.back().append(key);
    std::string json;
    bool has_kind = false;
    if (!readValue(value, depth, &json, &has_kind)) return false;
    path_.pop_back();
    if (has_kind) {
      (*members)[std::string(key)] = std::move(json);
    } else {
      members->erase(std::string(key));
    }
    return true;
  }

  // google.protobuf.ListValue { repeated Value values = 1; }; values with no kind are left out.
  bool readList(Span span, int depth, std::string* json) {
    if (!enter(span.pos, depth)) return false;
    json->push_back('[');
    size_t index = 0;
    bool first = true;
    while (!span.empty()) {
      Span item;
      if (!readRepeatedMessage(span, "google.protobuf.ListValue", "ListValue.values", "ListValue.values item", &item)) {
        return false;
      }
      // Built in steps: GCC 12 warns falsely (-Wrestrict) on `"[" + std::to_string(...)`.
      std::string segment = "[";
      segment += std::to_string(index++);
      segment += ']';
      path_.push_back(std::move(segment));
      std::string item_json;
      bool has_kind = false;
      if (!readValue(item, depth, &item_json, &has_kind)) return false;
      path_.pop_back();
      if (!has_kind) continue;
      if (!first) json->push_back(',');
      first = false;
      *json += item_json;
    }
    json->push_back(']');
    return true;
  }

  // google.protobuf.Value { oneof kind { NullValue null_value = 1; double number_value = 2;
  // string string_value = 3; bool bool_value = 4; Struct struct_value = 5; ListValue list_value = 6; } }
  bool readValue(Span span, int depth, std::string* json, bool* has_kind) {
    uint32_t kind = 0;
    while (!span.empty()) {
      const uint8_t* at;
      uint32_t field, wire_type;
      if (!readTag(span, &at, &field, &wire_type)) return false;
      if (field < 1 || field > 6) return fail(at, "google.protobuf.Value has no field " + std::to_string(field));
      const ValueKind& expected = kValueKinds[field];
      const std::string name = std::string("Value.") + expected.name;
      if (!expectWireType(at, name.c_str(), field, wire_type, expected.wire_type)) return false;
      if (kind == field) return fail(at, "a google.protobuf.Value repeats " + name);
      if (kind != 0) {
        return fail(at, "a google.protobuf.Value sets two kinds, " + std::string(kValueKinds[kind].name) + " and " +
                            expected.name);
      }
      kind = field;
      switch (field) {
        case 1: {  // null_value: NullValue enum; protobuf prints null whatever the number
          uint64_t ignored;
          if (!readVarint(span, &ignored, "Value.null_value")) return false;
          *json = "null";
          break;
        }
        case 2: {  // number_value: 8 bytes, little-endian IEEE 754
          if (span.end - span.pos < 8) return fail(at, "truncated Value.number_value: needs 8 bytes");
          uint64_t bits = 0;
          for (int i = 0; i < 8; i++) bits |= static_cast<uint64_t>(span.pos[i]) << (8 * i);
          span.pos += 8;
          double number;
          memcpy(&number, &bits, sizeof(number));
          if (!std::isfinite(number)) {
            return fail(at, std::string("Value.number_value is ") + (std::isnan(number) ? "NaN" : "Infinity") +
                                ", which JSON cannot hold (protobuf's JSON printer refuses it too)");
          }
          json->clear();
          appendJsonNumber(number, json);
          break;
        }
        case 3: {
          Span text_span;
          if (!readLengthDelimited(span, &text_span, "Value.string_value")) return false;
          std::string_view text;
          if (!readUtf8(text_span, "Value.string_value", &text)) return false;
          json->clear();
          appendJsonString(text, json);
          break;
        }
        case 4: {
          uint64_t flag;
          if (!readVarint(span, &flag, "Value.bool_value")) return false;
          *json = flag != 0 ? "true" : "false";
          break;
        }
        case 5: {
          Span inner;
          if (!readLengthDelimited(span, &inner, "Value.struct_value")) return false;
          json->clear();
          if (!readStruct(inner, depth + 1, json)) return false;
          break;
        }
        case 6: {
          Span inner;
          if (!readLengthDelimited(span, &inner, "Value.list_value")) return false;
          json->clear();
          if (!readList(inner, depth + 1, json)) return false;
          break;
        }
      }
    }
    *has_kind = kind != 0;
    return true;
  }

  const uint8_t* begin_;
  const uint8_t* end_;
  std::vector<std::string> path_;  // ".key" and "[index]" segments down to the value being read
  std::string error_;
};

}  // namespace

bool structBytesToJson(std::string_view bytes, std::string* json, std::string* error) {
  StructDecoder decoder(bytes);
  std::string out;
  if (!decoder.decode(&out)) {
    *error = decoder.error();
    return false;
  }
  *json = std::move(out);
  return true;
}

bool configBytesAsJson(std::string_view bytes, std::string* json, std::string* error) {
  if (bytes.empty()) {
    *json = "{}";
    return true;
  }
  std::string json_error;
  try {
    const nlohmann::json parsed = nlohmann::json::parse(bytes);
    (void)parsed;
    *json = std::string(bytes);
    return true;
  } catch (const nlohmann::json::exception& e) {
    json_error = e.what();
  }
  if (static_cast<uint8_t>(bytes[0]) != 0x0A) {
    *error = "filter_config is not JSON (use a google.protobuf.Struct, or a StringValue holding JSON): " + json_error;
    return false;
  }
  std::string struct_error;
  if (structBytesToJson(bytes, json, &struct_error)) return true;
  *error = "filter_config is neither a serialized google.protobuf.Struct (as Envoy v1.38 passes a per-route Struct) "
           "nor JSON text: as a Struct, " +
           struct_error + "; as JSON, " + json_error +
           ". Give a google.protobuf.Struct, or a StringValue holding JSON";
  return false;
}

}  // namespace nodevoy
