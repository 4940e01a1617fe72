// svedbg::le_bytes: little-endian integers in byte buffers.
//
// Contract: store_le / load_le write and read an unsigned integer of
// sizeof(T) bytes at `offset`, least significant byte first, whatever the
// host's byte order; the caller guarantees offset + sizeof(T) <= size.
// Used for ELF core notes, whose arm64 layouts are little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace svedbg {

template <typename T>
void store_le(std::span<std::byte> buf, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    buf[offset + i] = static_cast<std::byte>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff);
}

template <typename T>
T load_le(std::span<const std::byte> buf, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t(std::to_integer<unsigned>(buf[offset + i])) << (8 * i);
  return static_cast<T>(v);
}

}  // namespace svedbg
