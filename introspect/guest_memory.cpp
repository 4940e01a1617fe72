#include "introspect/guest_memory.hpp"

#include <algorithm>

namespace svedbg::introspect {

Status copy_guest_memory(kvm::Backend& backend, const kvm::MemoryRange& range, const MemorySink& sink) {
  std::vector<std::byte> buf(static_cast<std::size_t>(std::min<std::uint64_t>(range.size, kMemoryChunk)));
  std::uint64_t done = 0;
  while (done < range.size) {
    const std::uint64_t gpa = range.gpa + done;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(range.size - done, buf.size()));
    auto n = backend.read_phys(gpa, std::span(buf).first(want));
    if (!n) return make_error(EFAULT, "guest RAM at {:#x}: {}", gpa, n.error().message);
    if (*n == 0)
      return make_error(EFAULT, "guest RAM ends at {:#x}, inside the range {:#x}+{:#x}", gpa, range.gpa, range.size);
    if (auto s = sink(gpa, std::span(buf).first(*n)); !s) return s;
    done += *n;
  }
  return {};
}

std::uint64_t total_size(const std::vector<kvm::MemoryRange>& map) {
  std::uint64_t total = 0;
  for (const auto& r : map) total += r.size;
  return total;
}

}  // namespace svedbg::introspect
