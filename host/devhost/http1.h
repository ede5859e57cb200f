// HTTP/1.1 framing shared by the downstream server codec and the upstream client codec. Parsing is
// done by http-parser; this only serializes messages.
#pragma once

#include <string>

#include "buffer.h"
#include "header_map.h"

struct evbuffer;

namespace devhost {

const char* reasonPhrase(int code);

// Appends a header block (regular headers only, pseudo-headers skipped) and the blank line.
void appendHeaderLines(std::string& out, const HeaderMap& headers);

// Writes body bytes, chunk-framed when chunked. Drains data.
void writeBody(evbuffer* out, Buffer& data, bool chunked);
// Ends a chunked body, with optional trailers.
void writeChunkedEnd(evbuffer* out, const HeaderMap* trailers);

}  // namespace devhost
