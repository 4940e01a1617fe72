#include <catch2/catch.hpp>

#include <array>
#include <cerrno>
#include <cstddef>

#include "gdbstub/hex.hpp"

using namespace svedbg::gdbstub;

namespace {
Bytes bytes(std::initializer_list<unsigned> values) {
  Bytes out;
  for (unsigned v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}
}  // namespace

TEST_CASE("to_hex encodes bytes as lowercase pairs", "[hex]") {
  CHECK(to_hex(std::span<const std::byte>{}) == "");
  CHECK(to_hex(bytes({0x00, 0x01, 0xab, 0xff, 0x7f})) == "0001abff7f");
  CHECK(to_hex(std::string_view("OK")) == "4f4b");
  CHECK(to_hex(std::string_view("\xff\x80", 2)) == "ff80");
  CHECK(to_hex(std::string_view("")) == "");
}

TEST_CASE("from_hex decodes either case and rejects bad input", "[hex]") {
  auto r = from_hex("0001ABff7f");
  REQUIRE(r.ok());
  CHECK(*r == bytes({0x00, 0x01, 0xab, 0xff, 0x7f}));

  auto empty = from_hex("");
  REQUIRE(empty.ok());
  CHECK(empty->empty());

  for (const char* bad : {"0", "abc", "zz", "0g", "g0", " 1", "1 ", "-1", "0x"}) {
    INFO(bad);
    auto e = from_hex(bad);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().code == EINVAL);
  }
}

TEST_CASE("from_hex_text decodes to a string", "[hex]") {
  auto r = from_hex_text("68656c70");
  REQUIRE(r.ok());
  CHECK(*r == "help");
  auto hi = from_hex_text("00ff");
  REQUIRE(hi.ok());
  CHECK(*hi == std::string("\x00\xff", 2));
  CHECK_FALSE(from_hex_text("686").ok());
  CHECK(from_hex_text("6x").error().code == EINVAL);
}

TEST_CASE("hex round-trips every byte value", "[hex]") {
  Bytes all;
  for (unsigned v = 0; v < 256; ++v) all.push_back(static_cast<std::byte>(v));
  const std::string hex = to_hex(all);
  CHECK(hex.size() == 512);
  auto back = from_hex(hex);
  REQUIRE(back.ok());
  CHECK(*back == all);
}

TEST_CASE("parse_hex_u64 accepts 1..16 hex digits only", "[hex]") {
  CHECK(parse_hex_u64("0") == 0u);
  CHECK(parse_hex_u64("1f") == 0x1fu);
  CHECK(parse_hex_u64("DEADbeef") == 0xdeadbeefu);
  CHECK(parse_hex_u64("ffffffffffffffff") == 0xffffffffffffffffu);
  CHECK(parse_hex_u64("0000000000000001") == 1u);
  CHECK_FALSE(parse_hex_u64(""));
  CHECK_FALSE(parse_hex_u64("10000000000000000"));  // 17 digits
  CHECK_FALSE(parse_hex_u64("00000000000000001"));  // 17 digits, even if small
  CHECK_FALSE(parse_hex_u64("0x10"));
  CHECK_FALSE(parse_hex_u64("-1"));
  CHECK_FALSE(parse_hex_u64("1g"));
  CHECK_FALSE(parse_hex_u64(" 1"));
  CHECK_FALSE(parse_hex_u64("1,"));
}

TEST_CASE("hex_digit_value", "[hex]") {
  CHECK(hex_digit_value('0') == 0);
  CHECK(hex_digit_value('9') == 9);
  CHECK(hex_digit_value('a') == 10);
  CHECK(hex_digit_value('F') == 15);
  CHECK(hex_digit_value('g') == -1);
  CHECK(hex_digit_value('\0') == -1);
}
