// introspect::core_reader: an arm64 ELF core file parsed into vCPU state.
//
// Contract: read_core() opens `path` and, with libelf, checks it is an
// ELF64 little-endian ET_CORE for EM_AARCH64, then decodes its notes into
// one CoreVcpu per NT_PRSTATUS (in file order; the notes after an
// NT_PRSTATUS up to the next one are that thread's: NT_FPREGSET,
// NT_ARM_SVE, svedbg's "SVEDBG" note, see core_layout.hpp; process-wide and
// unknown notes are skipped) and its PT_LOAD segments into CoreSegments.
// Register state is stored as KVM presents it: a struct kvm_regs image for
// the core registers (x, sp, pc, pstate, V registers, fpsr, fpcr) and the
// Z/P/FFR containers with the recorded bytes and zeros above. The VMM's
// vCPU index and the vector lengths come from the SVEDBG note when present
// (index, VLS, effective vq, payload vq); otherwise the index is the
// thread's position, effective vq = the SVE header's vl / 16 and VLS = vq
// 1..max_vl/16. Refused, with a message naming the file, the thread (vCPU
// index and LWP) and what is wrong: not ELF / not 64-bit LE / not a core /
// not AArch64; notes that lie outside the file or are malformed; a known
// note whose size is not the layout's; an SVE header with an invalid or
// unsupported (> 2048-bit) VL or a payload too short for it; a thread with
// neither NT_FPREGSET nor NT_ARM_SVE; no NT_PRSTATUS at all. A PT_LOAD that
// a truncated file cuts short keeps the bytes present and adds a warning.
// The returned fd stays open for reading segment bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "kvm/reg_id.hpp"
#include "common/unique_fd.hpp"
#include "kvm/vls.hpp"

namespace svedbg::introspect {

struct CoreVcpu {
  std::uint32_t pid = 0;   // pr_pid (LWP)
  unsigned vmm_index = 0;  // the VMM's vCPU index: SVEDBG's, else the thread's position
  bool sve = false;
  bool svedbg_note = false;  // written by svedbg
  kvm::VqSet vls;
  unsigned effective_vq = 1;
  std::array<std::byte, kvm::layout::kSizeofKvmRegs> core{};
  std::array<std::array<std::byte, kvm::kZregBytes>, kvm::kSveNumZregs> z{};
  std::array<std::array<std::byte, kvm::kPregBytes>, kvm::kSveNumPregs> p{};
  std::array<std::byte, kvm::kPregBytes> ffr{};
  std::vector<std::pair<std::uint64_t, std::uint64_t>> extra;  // KVM ID -> value, from SVEDBG
};

struct CoreSegment {
  std::uint64_t vaddr = 0;
  std::uint64_t size = 0;    // bytes present in the file (<= p_filesz)
  std::uint64_t offset = 0;  // file offset of the first byte
};

struct CoreImage {
  std::string path;
  UniqueFd fd;
  std::vector<CoreVcpu> vcpus;
  std::vector<CoreSegment> segments;  // ascending by vaddr, size > 0
  std::vector<std::string> warnings;
};

Result<CoreImage> read_core(const std::string& path);

}  // namespace svedbg::introspect
