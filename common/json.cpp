// JSON string literals (see json.hpp).
#include "common/json.hpp"

#include <cstddef>
#include <cstdint>

namespace svedbg {
namespace {

void append_u(std::string& out, unsigned unit) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kDigits[(unit >> shift) & 0xf];
}

// The code point of the valid UTF-8 sequence of two to four bytes at s[i]
// and its length; 0 when s[i] does not start one (RFC 3629: no overlong
// forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& code) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2, min = 0x80, code = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3, min = 0x800, code = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4, min = 0x10000, code = b0 & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    code = (code << 6) | (b & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return n;
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  out.reserve(s.size() + 2);
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t code = 0;
    const std::size_t n = c >= 0x80 ? utf8_sequence(s, i, code) : 0;
    if (n > 0) {  // a character above U+007F
      if (code > 0xffff) {
        code -= 0x10000;
        append_u(out, 0xd800 + (code >> 10));
        append_u(out, 0xdc00 + (code & 0x3ff));
      } else {
        append_u(out, code);
      }
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c >= 0x20 && c < 0x7f)
          out += static_cast<char>(c);
        else
          append_u(out, c);  // a control byte, DEL, or a byte outside valid UTF-8 as Latin-1
    }
    ++i;
  }
  return out + "\"";
}

}  // namespace svedbg
