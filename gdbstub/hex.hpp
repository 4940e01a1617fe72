// Hex helpers for the GDB remote serial protocol.
//
// Contract: the protocol sends most binary data "encoded either as two
// hexadecimal digits per byte of binary data" (GDB manual, Remote Protocol >
// Overview) and most numbers as variable-length hex with no prefix and no
// sign. These helpers produce lowercase hex (gdb accepts either case and
// gdbserver emits lowercase) and accept both cases on input. They never
// throw: malformed input is an EINVAL Error or std::nullopt, so callers can
// turn it into an `E` reply naming the offending packet. All functions are
// pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "gdbstub/target.hpp"

namespace svedbg::gdbstub {

// Value of one hex digit, or -1 if `c` is not [0-9a-fA-F].
int hex_digit_value(char c);

// Two lowercase hex digits per byte, in order ("\x01\xab" -> "01ab").
std::string to_hex(std::span<const std::byte> data);
// Same for text (each char is one byte), e.g. monitor output for `O` packets.
std::string to_hex(std::string_view text);

// Inverse of to_hex. Odd length or a non-hex digit -> EINVAL. "" -> {}.
Result<Bytes> from_hex(std::string_view hex);
// Same, decoded into a std::string (e.g. the command of `qRcmd,HEX`).
Result<std::string> from_hex_text(std::string_view hex);

// A protocol number: 1..16 hex digits, no sign, no "0x" prefix, nothing else.
// Empty, any non-hex char or more than 16 digits -> nullopt. Leading zeros
// count toward the 16-digit limit (gdb never pads beyond the value's width).
std::optional<std::uint64_t> parse_hex_u64(std::string_view hex);

}  // namespace svedbg::gdbstub
