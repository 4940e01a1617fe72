#include "kvm/attach/code_cave.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace svedbg::kvm {

namespace {

// The executable segments' ends of the ELF file whose offset-0 mapping
// starts at `base`, as run-time addresses.
std::vector<std::uint64_t> exec_segment_ends(std::uint64_t base, std::uint64_t page_size, const PeekFn& peek) {
  Elf64_Ehdr eh{};
  if (!peek(base, &eh, sizeof eh)) return {};
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 256)
    return {};
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  if (!peek(base + eh.e_phoff, ph.data(), ph.size() * sizeof(Elf64_Phdr))) return {};
  // The load bias: the segment holding file offset 0 is mapped at `base`
  // (its p_vaddr rounded down to a page, as the kernel and ld.so map it).
  const Elf64_Phdr* first = nullptr;
  for (const auto& p : ph)
    if (p.p_type == PT_LOAD && p.p_offset < page_size && (!first || p.p_vaddr < first->p_vaddr)) first = &p;
  if (!first) return {};
  const std::uint64_t bias = base - (first->p_vaddr & ~(page_size - 1));
  std::vector<std::uint64_t> ends;
  for (const auto& p : ph)
    if (p.p_type == PT_LOAD && (p.p_flags & PF_X) && p.p_memsz) ends.push_back(bias + p.p_vaddr + p.p_memsz);
  return ends;
}

}  // namespace

std::optional<CodeCave> find_code_cave(const std::vector<MapEntry>& maps, std::size_t bytes, std::uint64_t page_size,
                                       const PeekFn& peek) {
  if (page_size == 0 || (page_size & (page_size - 1))) return std::nullopt;
  std::set<std::string> seen;
  for (const auto& x : maps) {
    if (!x.exec || x.path.empty() || x.path.front() != '/' || !seen.insert(x.path).second) continue;
    // The file's mapping of offset 0 holds its ELF header (for the main
    // executable and libraries alike the lowest segment starts at offset 0).
    const auto header = std::find_if(maps.begin(), maps.end(),
                                     [&](const MapEntry& m) { return m.path == x.path && m.offset == 0 && m.read; });
    if (header == maps.end()) continue;
    for (const std::uint64_t end : exec_segment_ends(header->start, page_size, peek)) {
      const std::uint64_t at = (end + 15) & ~std::uint64_t{15};
      const std::uint64_t page_end = (end + page_size - 1) & ~(page_size - 1);
      if (at >= page_end || page_end - at < bytes) continue;
      // Mapped executable, readable, by this file, from `at` to the page end.
      const bool mapped = std::any_of(maps.begin(), maps.end(), [&](const MapEntry& m) {
        return m.path == x.path && m.exec && m.read && m.start <= at && page_end <= m.end;
      });
      if (mapped) return CodeCave{at, static_cast<std::size_t>(page_end - at), x.path};
    }
  }
  return std::nullopt;
}

}  // namespace svedbg::kvm
