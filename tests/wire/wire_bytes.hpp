// Wire-test helpers: a packet as the client frames it ("$payload#cs") and a
// 64-bit register value as the `p`/`g` reply encodes it (little-endian hex).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace svedbg::test {

inline std::string frame(std::string_view payload) {
  unsigned sum = 0;
  for (unsigned char ch : payload) sum += ch;
  return fmt::format("${}#{:02x}", payload, sum & 0xff);
}

inline std::string le64(std::uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += fmt::format("{:02x}", (v >> (8 * i)) & 0xff);
  return s;
}

}  // namespace svedbg::test
