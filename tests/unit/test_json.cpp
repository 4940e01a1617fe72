// common/json.hpp: JSON string literals, pure ASCII for any bytes.
#include <string>

#include <catch2/catch.hpp>

#include "common/json.hpp"

using svedbg::json_quote;

TEST_CASE("json_quote: quotes, backslashes and control characters", "[json]") {
  CHECK(json_quote("") == "\"\"");
  CHECK(json_quote("plain text 0-9 ~") == "\"plain text 0-9 ~\"");
  CHECK(json_quote("a\"b\\c\nd\x01") == "\"a\\\"b\\\\c\\nd\\u0001\"");
  CHECK(json_quote("\t\r") == "\"\\t\\r\"");
  CHECK(json_quote(std::string("a\0b", 3)) == "\"a\\u0000b\"");
  CHECK(json_quote("\x1f\x7f") == "\"\\u001f\\u007f\"");
  CHECK(json_quote("/") == "\"/\"");
}

TEST_CASE("json_quote: valid UTF-8 as \\u escapes of its characters", "[json]") {
  CHECK(json_quote("caf\xc3\xa9") == "\"caf\\u00e9\"");           // U+00E9, 2 bytes
  CHECK(json_quote("\xe2\x82\xac") == "\"\\u20ac\"");             // U+20AC, 3 bytes
  CHECK(json_quote("\xf0\x9f\x98\x80") == "\"\\ud83d\\ude00\"");  // U+1F600: a surrogate pair
  CHECK(json_quote("\xf4\x8f\xbf\xbf") == "\"\\udbff\\udfff\"");  // U+10FFFF, the last
  CHECK(json_quote("\xc2\x80x") == "\"\\u0080x\"");
}

TEST_CASE("json_quote: bytes outside valid UTF-8 as Latin-1", "[json]") {
  CHECK(json_quote("caf\xe9") == "\"caf\\u00e9\"");  // Latin-1 é
  CHECK(json_quote("\xff\xfe") == "\"\\u00ff\\u00fe\"");
  CHECK(json_quote("\xc0\xaf") == "\"\\u00c0\\u00af\"");                        // overlong '/'
  CHECK(json_quote("\xe0\x80\xaf") == "\"\\u00e0\\u0080\\u00af\"");             // overlong, 3 bytes
  CHECK(json_quote("\xed\xa0\x80") == "\"\\u00ed\\u00a0\\u0080\"");             // a surrogate, U+D800
  CHECK(json_quote("\xf4\x90\x80\x80") == "\"\\u00f4\\u0090\\u0080\\u0080\"");  // above U+10FFFF
  CHECK(json_quote("\xe2\x82") == "\"\\u00e2\\u0082\"");                        // cut short at the end
  CHECK(json_quote("\xe2\x82x") == "\"\\u00e2\\u0082x\"");                      // cut short by ASCII
  CHECK(json_quote("\x80") == "\"\\u0080\"");                                   // a lone continuation byte
}
