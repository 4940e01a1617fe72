// kvm/code_cave: room for a few instructions in a process's executable
// memory that the process never runs nor reads: where the attach backend
// puts its batch loop (kvm/attach/inject_batch.hpp) without mapping memory
// in the VMM (an injected mmap and munmap would cost two trips per stop).
//
// Why such room exists: the kernel maps ELF segments in whole pages
// (binfmt_elf, ld.so: mmap of the page-aligned file range), so the last
// page of an executable PT_LOAD segment is mapped, executable, to its end
// although the segment ends before it. The bytes past the segment's end
// (p_vaddr + p_memsz) are file padding or the start of the next segment's
// file bytes, which the program reaches only through that segment's own
// mapping; nothing jumps there or reads them there. Written through
// /proc/PID/mem, the page becomes a private copy (as gdb's breakpoints do).
//
// Contract: find_code_cave(maps, bytes, page_size, peek) looks at every
// file mapped executable in `maps` (/proc/PID/maps, kvm/proc_parse.hpp),
// reads its ELF header and program headers with `peek` at the file's
// mapping of offset 0 (64-bit little-endian ELF only; anything else is
// skipped), and returns the first executable segment end, 16-aligned,
// with at least `bytes` mapped executable bytes up to the end of its page
// (and of its mapping), or nullopt. `peek(addr, out, len)` reads the
// process's memory and says whether it could.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kvm/proc_parse.hpp"

namespace svedbg::kvm {

struct CodeCave {
  std::uint64_t addr = 0;  // 16-aligned, executable, never run by the process
  std::size_t size = 0;    // bytes up to the end of the page
  std::string path;        // the file it belongs to, for logs
};

using PeekFn = std::function<bool(std::uint64_t addr, void* out, std::size_t len)>;

std::optional<CodeCave> find_code_cave(const std::vector<MapEntry>& maps, std::size_t bytes, std::uint64_t page_size,
                                       const PeekFn& peek);

}  // namespace svedbg::kvm
