#include "gdbstub/hex.hpp"

#include <cerrno>

namespace svedbg::gdbstub {

namespace {

constexpr char kDigits[] = "0123456789abcdef";

template <typename Out>
Result<Out> decode_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return make_error(EINVAL, "hex string has odd length {}", hex.size());
  }
  Out out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit_value(hex[i]);
    const int lo = hex_digit_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return make_error(EINVAL, "invalid hex digit at offset {}", hi < 0 ? i : i + 1);
    }
    out.push_back(static_cast<typename Out::value_type>((hi << 4) | lo));
  }
  return out;
}

}  // namespace

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string to_hex(std::span<const std::byte> data) {
  std::string out(data.size() * 2, '\0');
  char* w = out.data();
  for (const std::byte b : data) {
    const auto v = std::to_integer<unsigned>(b);
    *w++ = kDigits[v >> 4];
    *w++ = kDigits[v & 0xf];
  }
  return out;
}

std::string to_hex(std::string_view text) {
  return to_hex(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

Result<Bytes> from_hex(std::string_view hex) { return decode_hex<Bytes>(hex); }

Result<std::string> from_hex_text(std::string_view hex) { return decode_hex<std::string>(hex); }

std::optional<std::uint64_t> parse_hex_u64(std::string_view hex) {
  if (hex.empty() || hex.size() > 16) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : hex) {
    const int d = hex_digit_value(c);
    if (d < 0) return std::nullopt;
    value = (value << 4) | static_cast<std::uint64_t>(d);
  }
  return value;
}

}  // namespace svedbg::gdbstub
