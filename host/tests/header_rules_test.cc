// Unit tests of the header rules (host/module/header_rules.cc): pure functions, no V8, no Envoy.
#include "header_rules.h"

#include <gtest/gtest.h>

namespace nodevoy {
namespace {

std::string bytesOf(std::u16string_view text) {
  std::string out;
  EXPECT_EQ(narrowToBytes(text, &out), std::u16string_view::npos);
  return out;
}

TEST(NarrowToBytes, KeepsEveryByteExactly) {
  std::u16string all;
  for (char16_t c = 0; c <= 0xFF; c++) all.push_back(c);
  std::string out = bytesOf(all);
  ASSERT_EQ(out.size(), 256u);
  for (size_t i = 0; i < 256; i++) EXPECT_EQ(static_cast<unsigned char>(out[i]), i);
}

TEST(NarrowToBytes, RefusesTheFirstUnitAboveFF) {
  std::string out;
  EXPECT_EQ(narrowToBytes(u"ab\u010D\u010A", &out), 2u);  // U+010D would have become CR
  EXPECT_EQ(narrowToBytes(u"\u0100", &out), 0u);          // would have become NUL
  EXPECT_EQ(narrowToBytes(u"x\xD800", &out), 1u);          // a lone surrogate
}

TEST(HeaderName, TokensOnly) {
  EXPECT_EQ(checkHeaderName("x-custom_1.a!#$%&'*+^`|~", HeaderTarget::Request, HeaderWrite::Set), "");
  for (const char* bad : {"x y", "x:y", "x(", "x\"", "x,", "x/", "x;", "x=", "x@", "x[", "x{", "x\t"}) {
    EXPECT_NE(checkHeaderName(bad, HeaderTarget::Request, HeaderWrite::Set), "") << bad;
  }
  EXPECT_NE(checkHeaderName("", HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderName(std::string("x\x80", 2), HeaderTarget::Request, HeaderWrite::Add), "");
}

TEST(HeaderName, PseudoHeadersWhereTheyExist) {
  EXPECT_EQ(checkHeaderName(":path", HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_EQ(checkHeaderName(":status", HeaderTarget::Response, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderName(":status", HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderName(":path", HeaderTarget::Response, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderName(":bogus", HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderName(":path", HeaderTarget::RequestTrailers, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderName(":path", HeaderTarget::Request, HeaderWrite::Remove), "");
  EXPECT_NE(checkHeaderName(":method", HeaderTarget::Request, HeaderWrite::Add), "");
  EXPECT_NE(checkHeaderName(":status", HeaderTarget::LocalReply, HeaderWrite::Add), "");
}

TEST(HeaderName, LocalRepliesAreFramedByEnvoy) {
  EXPECT_NE(checkHeaderName("content-length", HeaderTarget::LocalReply, HeaderWrite::Add), "");
  EXPECT_NE(checkHeaderName("transfer-encoding", HeaderTarget::LocalReply, HeaderWrite::Add), "");
  EXPECT_EQ(checkHeaderName("content-length", HeaderTarget::Response, HeaderWrite::Set), "");
}

TEST(HeaderValue, NoNulCrLf) {
  EXPECT_EQ(checkHeaderValue("x", std::string("a\tb \x01\x7f\xff", 7), HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderValue("x", std::string("a\0b", 3), HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderValue("x", "a\rb", HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderValue("x", "a\nb", HeaderTarget::LocalReply, HeaderWrite::Add), "");
}

TEST(HeaderValue, EmptyOnlyInLocalReplies) {
  EXPECT_NE(checkHeaderValue("x", "", HeaderTarget::Request, HeaderWrite::Set), "");
  EXPECT_NE(checkHeaderValue("x", "", HeaderTarget::Response, HeaderWrite::Add), "");
  EXPECT_EQ(checkHeaderValue("x", "", HeaderTarget::LocalReply, HeaderWrite::Add), "");
}

TEST(HeaderValue, PseudoHeaderSyntax) {
  auto status = [](const char* v) { return checkHeaderValue(":status", v, HeaderTarget::Response, HeaderWrite::Set); };
  EXPECT_EQ(status("200"), "");
  EXPECT_EQ(status("999"), "");
  EXPECT_EQ(status("100"), "");
  for (const char* bad : {"abc", "99", "1000", "099", "2x0", " 200"}) EXPECT_NE(status(bad), "") << bad;
  auto request = [](const char* name, const char* v) {
    return checkHeaderValue(name, v, HeaderTarget::Request, HeaderWrite::Set);
  };
  EXPECT_EQ(request(":method", "PATCH"), "");
  EXPECT_NE(request(":method", "GET X"), "");
  EXPECT_EQ(request(":path", "/a?b=c%20d"), "");
  EXPECT_EQ(request(":path", "*"), "");
  EXPECT_NE(request(":path", "/a b"), "");
  EXPECT_NE(request(":path", "relative"), "");
  EXPECT_NE(request(":path", "/\x7f"), "");
  EXPECT_EQ(request(":authority", "example.com:8080"), "");
  EXPECT_NE(request(":authority", "a/b"), "");
  EXPECT_EQ(request(":scheme", "https"), "");
  EXPECT_NE(request(":scheme", "1http"), "");
}

TEST(LowerAscii, OnlyAscii) {
  std::string name = "X-Mixed-CASE\xC0";
  lowerAscii(&name);
  EXPECT_EQ(name, "x-mixed-case\xC0");
}

TEST(QuoteForMessage, EscapesWhatIsNotPrintable) {
  EXPECT_EQ(quoteForMessage(u"x-a"), "\"x-a\"");
  EXPECT_EQ(quoteForMessage(u"a\r\u010D\""), "\"a\\x0D\\u010D\\x22\"");
}

}  // namespace
}  // namespace nodevoy
