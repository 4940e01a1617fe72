// Internal to introspect/sim: how the sim moves register values in and
// out of KVM's ONE_REG buffers and its own struct kvm_regs image. Values
// cross the buffer in host byte order, as KVM's copy_{to,from}_user of the
// kernel's own variables does.
#pragma once

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "kvm/reg_id.hpp"

namespace svedbg::introspect::sim_detail {

namespace layout = kvm::layout;

template <typename T>
inline std::array<std::byte, sizeof(T)> bytes_of(T value) {
  std::array<std::byte, sizeof(T)> out{};
  std::memcpy(out.data(), &value, sizeof(T));
  return out;
}

template <typename T>
inline T load(std::span<const std::byte> in) {
  T value{};
  std::memcpy(&value, in.data(), sizeof(T));
  return value;
}

inline std::uint64_t load_core_u64(const std::array<std::byte, layout::kSizeofKvmRegs>& core, std::size_t offset) {
  return load<std::uint64_t>(std::span<const std::byte>(core).subspan(offset, 8));
}

inline void store_core_u64(std::array<std::byte, layout::kSizeofKvmRegs>& core, std::size_t offset,
                           std::uint64_t value) {
  std::memcpy(core.data() + offset, &value, sizeof value);
}

inline std::optional<unsigned> parse_unsigned(std::string_view s) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

}  // namespace svedbg::introspect::sim_detail
