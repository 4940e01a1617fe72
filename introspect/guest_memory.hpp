// introspect::guest_memory: streaming a guest's RAM out of a Backend.
//
// Contract: copy_guest_memory() reads `range` through Backend::read_phys in
// chunks of at most kMemoryChunk bytes and hands each chunk, in ascending
// address order, to `sink` (gpa of its first byte, the bytes). A read that
// fails or comes back short before the end of the range stops the copy with
// EFAULT naming the address; an error returned by `sink` stops it too and
// is passed through. total_size() sums a memory map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

inline constexpr std::size_t kMemoryChunk = std::size_t{1} << 20;

using MemorySink = std::function<Status(std::uint64_t gpa, std::span<const std::byte> bytes)>;

Status copy_guest_memory(kvm::Backend& backend, const kvm::MemoryRange& range, const MemorySink& sink);
std::uint64_t total_size(const std::vector<kvm::MemoryRange>& map);

}  // namespace svedbg::introspect
