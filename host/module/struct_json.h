// A filter_config that Envoy handed over as bytes, turned into the JSON text libnodevoy reads.
//
// Envoy converts a typed filter_config to bytes before the module sees it (docs/envoy-facts.md §21):
// a google.protobuf.Struct becomes compact JSON, a StringValue its raw string — except that Envoy
// v1.38 converts a *per-route* config with anyToBytes, so a per-route Struct arrives as the Struct's
// serialized protobuf bytes. structBytesToJson decodes those bytes into the JSON protobuf's printer
// (and so Envoy v1.39+) would have produced; configBytesAsJson tells the two forms apart.
//
// Pure: no V8, no Envoy; unit-tested in host/tests/struct_json_test.cc.
#pragma once

#include <string>
#include <string_view>

namespace nodevoy {

// How deeply Structs and lists may nest inside a Struct's bytes (the decoder recurses once per level;
// the cap keeps hostile bytes from exhausting the stack).
constexpr int kMaxStructNesting = 100;

// Serialized google.protobuf.Struct -> compact JSON, as protobuf's JSON printer writes it: object keys
// in byte order (protobuf leaves map order unspecified; this is the order the dev host's JSON has),
// a key repeated on the wire keeps its last value, a Value with no kind set is left out, integral
// numbers print without a fraction (200, not 200.0), others with up to 17 significant digits.
// Stricter than protobuf's parser where Envoy's serializer never goes: unknown fields, a Value with
// two kinds and a map entry with a repeated field are refused. NaN and ±Infinity are refused, as
// protobuf's JSON printer refuses them. Strings and keys must be UTF-8 (proto3 strings are).
// Returns false with *error saying what is wrong and where (byte offset and path in the Struct).
bool structBytesToJson(std::string_view bytes, std::string* json, std::string* error);

// Envoy's filter_config bytes -> JSON text. The rule:
//   1. empty bytes are "{}" (an empty Struct serializes to no bytes);
//   2. bytes that are valid JSON text are that JSON, unchanged (a Struct from Envoy v1.39+ or at the
//      filter level, a StringValue holding JSON);
//   3. otherwise, bytes starting with 0x0A (field 1, length-delimited: how every non-empty Struct
//      starts) are decoded as a serialized Struct (a per-route Struct from Envoy v1.38).
// JSON goes first so no JSON text is ever read differently than before. The two cannot be confused
// for a config with content: every map entry that holds a value carries the byte 0x12 (its value
// field's tag), a control character valid JSON text never contains, not even inside strings. Only a
// Struct whose every value is unset could also read as JSON, and it holds nothing. Returns false with
// *error naming both readings when the bytes are neither.
bool configBytesAsJson(std::string_view bytes, std::string* json, std::string* error);

}  // namespace nodevoy
