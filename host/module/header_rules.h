// What a header name or value may be, checked where JS strings become header bytes — every path that
// writes headers (set, add, remove, local-reply headers) goes through these functions, so no path can
// send bytes the rules refuse. The rules are the Fetch standard's for `Headers`: a name is an RFC 9110
// token, a value is a byte string without NUL, CR or LF, and a UTF-16 code unit above U+00FF is an
// error, never narrowed to its low byte (that narrowing turned U+010A into LF: header injection).
// Pseudo-headers are Envoy's extension: only the ones that exist for the map, with values their
// syntax allows, and they can be changed but not added twice or removed.
// Pure functions: no V8, no Envoy; unit-tested in host/tests/header_rules_test.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace nodevoy {

// Which header list a write goes to (the ABI's header types, plus a local reply's headers).
enum class HeaderTarget { Request, RequestTrailers, Response, ResponseTrailers, LocalReply };

enum class HeaderWrite { Set, Add, Remove };

// Narrows UTF-16 code units to bytes into *out. Returns the index of the first code unit above
// U+00FF (out is then incomplete), or std::u16string_view::npos when every unit is a byte.
size_t narrowToBytes(std::u16string_view text, std::string* out);

// ASCII lower-casing in place (header names are case-insensitive; Envoy stores them lower-cased).
void lowerAscii(std::string* name);

// Empty when `name` (bytes, lower-cased) may be written to `target` with `write`; else what is wrong,
// as a sentence fragment for an error message.
std::string checkHeaderName(std::string_view name, HeaderTarget target, HeaderWrite write);

// Empty when `value` (bytes) is a valid value for `name` (lower-cased) in `target`; else what is
// wrong. Set and Add refuse an empty value: Envoy's module ABI cannot store one (set_header with an
// empty value removes the header, add_header refuses it); a local reply's headers may be empty.
std::string checkHeaderValue(std::string_view name, std::string_view value, HeaderTarget target, HeaderWrite write);

// A JS string quoted for an error message: printable ASCII as is, everything else escaped.
std::string quoteForMessage(std::u16string_view text);

// Why a code unit above U+00FF is refused, and what to do instead (shared by names and values).
std::string notByteMessage(char16_t unit, size_t index);

}  // namespace nodevoy
