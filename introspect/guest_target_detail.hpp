// Internal to introspect/: little helpers the GuestTarget files share
// (guest_target.cpp, guest_registers.cpp, guest_memory_access.cpp,
// guest_run.cpp), and the names those files use unqualified (only they
// include this header).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "gdbstub/target.hpp"
#include "xml-targets/tdesc.hpp"

namespace svedbg::introspect::guest_detail {

// A little-endian value of up to 8 bytes (a shorter buffer is zero-extended).
inline std::uint64_t load_u64(std::span<const std::byte> b) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(8, b.size()); ++i)
    v |= std::uint64_t(std::to_integer<unsigned>(b[i])) << (8 * i);
  return v;
}

inline gdbstub::Bytes store_u64(std::uint64_t v) {
  gdbstub::Bytes b(8);
  for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::byte>(v >> (8 * i));
  return b;
}

inline bool all_zero(std::span<const std::byte> b) {
  return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0}; });
}

// Expedited with every stop, as gdbserver's aarch64 backend does.
inline constexpr unsigned kX29 = 29, kSp = 31, kPc = 32;

}  // namespace svedbg::introspect::guest_detail

namespace svedbg::introspect {

using namespace guest_detail;
using gdbstub::ResumeKind;
using gdbstub::Signal;
using gdbstub::StopEvent;
using gdbstub::ThreadId;
using xml::RegClass;

}  // namespace svedbg::introspect
