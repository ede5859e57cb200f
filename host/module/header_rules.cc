#include "header_rules.h"

#include <cstdio>

namespace nodevoy {

namespace {

// RFC 9110 §5.6.2 tchar.
bool isTokenChar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
  }
  return false;
}

bool isToken(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

std::string byteName(unsigned char c) {
  char buf[48];
  const char* name = c == 0 ? " (NUL)" : c == '\r' ? " (CR)" : c == '\n' ? " (LF)" : c == ' ' ? " (space)" : "";
  snprintf(buf, sizeof buf, "byte 0x%02X%s", c, name);
  return buf;
}

std::string at(size_t index) { return " at index " + std::to_string(index); }

// The pseudo-headers each list may hold (Envoy's request and response header maps).
bool pseudoAllowed(std::string_view name, HeaderTarget target) {
  if (target == HeaderTarget::Request) {
    return name == ":method" || name == ":path" || name == ":authority" || name == ":scheme" || name == ":protocol";
  }
  if (target == HeaderTarget::Response) return name == ":status";
  return false;
}

const char* targetName(HeaderTarget target) {
  switch (target) {
    case HeaderTarget::Request: return "request headers";
    case HeaderTarget::RequestTrailers: return "request trailers";
    case HeaderTarget::Response: return "response headers";
    case HeaderTarget::ResponseTrailers: return "response trailers";
    case HeaderTarget::LocalReply: return "a local reply's headers";
  }
  return "headers";
}

// Syntax of each pseudo-header's value; empty when valid.
std::string checkPseudoValue(std::string_view name, std::string_view value) {
  if (name == ":status") {
    bool digits = value.size() == 3;
    for (unsigned char c : value) digits = digits && c >= '0' && c <= '9';
    if (!digits || value[0] == '0') return "must be a 3-digit status code 100-999";
    return "";
  }
  if (name == ":method" || name == ":protocol") {
    return isToken(value) ? "" : "must be a token (letters, digits and !#$%&'*+-.^_`|~)";
  }
  if (name == ":scheme") {
    bool ok = !value.empty() && ((value[0] >= 'a' && value[0] <= 'z') || (value[0] >= 'A' && value[0] <= 'Z'));
    for (unsigned char c : value) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
    }
    return ok ? "" : "must be a URI scheme such as http or https";
  }
  // :path and :authority travel in the request line / Host header: visible ASCII only.
  for (size_t i = 0; i < value.size(); i++) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c <= 0x20 || c >= 0x7F) {
      return byteName(c) + at(i) + " is not allowed: " + std::string(name) +
             " must be visible ASCII (percent-encode spaces and non-ASCII bytes)";
    }
    if (name == ":authority" && (c == '/' || c == '?' || c == '#')) {
      return byteName(c) + at(i) + " is not allowed in :authority (host[:port])";
    }
  }
  if (name == ":path" && (value.empty() || (value[0] != '/' && value != "*"))) {
    return "must start with '/' (or be '*')";
  }
  return "";
}

}  // namespace

size_t narrowToBytes(std::u16string_view text, std::string* out) {
  out->resize(text.size());
  char* data = out->data();
  for (size_t i = 0; i < text.size(); i++) {
    char16_t unit = text[i];
    if (unit > 0xFF) return i;
    data[i] = static_cast<char>(unit);
  }
  return std::u16string_view::npos;
}

void lowerAscii(std::string* name) {
  for (char& c : *name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

std::string checkHeaderName(std::string_view name, HeaderTarget target, HeaderWrite write) {
  if (name.empty()) return "the name is empty";
  if (name[0] == ':') {
    if (target == HeaderTarget::LocalReply) {
      return "pseudo-headers cannot be set in a local reply (its status is sendLocalReply's status argument)";
    }
    if (!pseudoAllowed(name, target)) {
      return std::string("pseudo-header ") + std::string(name) + " does not exist in " + targetName(target);
    }
    if (write == HeaderWrite::Remove) return "pseudo-headers can be changed with set() but not removed";
    if (write == HeaderWrite::Add) return "a pseudo-header has one value: use set(), not add()";
    return "";
  }
  for (size_t i = 0; i < name.size(); i++) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (!isTokenChar(c)) {
      return byteName(c) + at(i) + " is not allowed: a header name must be a token (letters, digits and !#$%&'*+-.^_`|~)";
    }
  }
  // Framing is Envoy's: a reply's length comes from its body, so a stated one could only disagree.
  if (target == HeaderTarget::LocalReply && (name == "content-length" || name == "transfer-encoding")) {
    return std::string(name) + " cannot be set in a local reply: Envoy frames the reply from its body";
  }
  return "";
}

std::string checkHeaderValue(std::string_view name, std::string_view value, HeaderTarget target, HeaderWrite write) {
  for (size_t i = 0; i < value.size(); i++) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == 0 || c == '\r' || c == '\n') {
      return byteName(c) + at(i) + " is not allowed: a header value must not contain NUL, CR or LF";
    }
  }
  if (value.empty() && write != HeaderWrite::Remove && target != HeaderTarget::LocalReply) {
    return "the value is empty, and Envoy's module ABI cannot store an empty header value (use remove())";
  }
  if (!name.empty() && name[0] == ':') return checkPseudoValue(name, value);
  return "";
}

std::string quoteForMessage(std::u16string_view text) {
  std::string out = "\"";
  size_t shown = 0;
  for (char16_t unit : text) {
    if (++shown > 64) {
      out += "...";
      break;
    }
    if (unit >= 0x20 && unit < 0x7F && unit != '"' && unit != '\\') {
      out.push_back(static_cast<char>(unit));
    } else {
      char buf[8];
      snprintf(buf, sizeof buf, unit <= 0xFF ? "\\x%02X" : "\\u%04X", static_cast<unsigned>(unit));
      out += buf;
    }
  }
  return out + "\"";
}

std::string notByteMessage(char16_t unit, size_t index) {
  char buf[16];
  snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(unit));
  return std::string("code unit ") + buf + at(index) +
         " is not a byte: header names and values are byte strings (latin1), never narrowed silently; "
         "to send UTF-8 text, encode it first, e.g. Buffer.from(text, 'utf8').toString('latin1')";
}

}  // namespace nodevoy
