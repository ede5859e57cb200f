#include "http1.h"

#include <event2/buffer.h>

#include <cstdio>

namespace devhost {

const char* reasonPhrase(int code) {
  switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

void appendHeaderLines(std::string& out, const HeaderMap& headers) {
  for (const auto& e : headers.entries()) {
    if (!e.key.empty() && e.key[0] == ':') continue;
    out += e.key;
    out += ": ";
    out += e.value;
    out += "\r\n";
  }
  out += "\r\n";
}

void writeBody(evbuffer* out, Buffer& data, bool chunked) {
  if (data.empty()) return;
  if (chunked) {
    char size_line[32];
    int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", data.length());
    evbuffer_add(out, size_line, static_cast<size_t>(n));
  }
  for (const auto& slice : data.slices()) evbuffer_add(out, slice.data(), slice.size());
  if (chunked) evbuffer_add(out, "\r\n", 2);
  data.clear();
}

void writeChunkedEnd(evbuffer* out, const HeaderMap* trailers) {
  std::string tail = "0\r\n";
  if (trailers) {
    appendHeaderLines(tail, *trailers);
  } else {
    tail += "\r\n";
  }
  evbuffer_add(out, tail.data(), tail.size());
}

}  // namespace devhost
