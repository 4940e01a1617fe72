// introspect::core_writer: a guest's state as an arm64 Linux ELF core file.
//
// Contract: write_core() writes to `fd` (a regular, seekable file, written
// from offset 0) an ELF64 little-endian ET_CORE for EM_AARCH64 whose
// program headers (built with libelf) are one PT_NOTE and, with `memory`,
// one PT_LOAD per range of backend.memory_map() (p_vaddr = p_paddr = the
// guest-physical address, RWX, page-aligned file offsets). The notes are,
// per vCPU in order, as Linux writes them for a thread: NT_PRSTATUS
// ("CORE"; pr_pid = vCPU index + 1 so gdb's LWP numbers match the live
// stub's thread ids, pr_reg = x0..x30, sp, pc, pstate with sp the stack
// pointer PSTATE.M selects: SP_EL1 at EL1h, SP_EL0 otherwise, as gdb's
// live `sp`; pr_cursig SIGTRAP on
// the first vCPU), NT_FPREGSET ("CORE"; V = low 128 bits of Z, fpsr,
// fpcr), NT_ARM_SVE ("LINUX"; only when some vCPU has SVE: struct
// user_sve_header + payload in the SVE_PT_SVE_* layout; a vCPU without SVE
// gets the FPSIMD layout with a 128-bit VL), then svedbg's own "SVEDBG"
// note (core_layout.hpp) with the VLS, effective VL, the vq the NT_ARM_SVE
// payload uses, the system registers and SP_EL0 (KVM's regs.sp). How the NT_ARM_SVE notes of vCPUs
// with different VLs are shaped is `sve_notes` (see SveNotes and
// docs/dumps.md). `progress` (if set) is called while guest RAM is copied
// with (bytes done, bytes total). Errors name what failed (errno from
// write(2), libelf's message, the guest address).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "introspect/vcpu_snapshot.hpp"

namespace svedbg::introspect {

// Shape of the NT_ARM_SVE notes. L = the largest maximum VL of any vCPU
// (the live stub's default description VL).
enum class SveNotes {
  // Every payload at L; the header's vl is the vCPU's effective VL, except
  // on the first vCPU, whose header says L (gdb 13 sizes every thread's
  // registers from the first note's vl and takes $vg from each note's vl).
  // gdb-multiarch 13 then shows exactly what the live stub shows.
  Gdb13,
  // Every payload and header vl at L: strictly the kernel's format, but
  // gdb shows $vg = L for every thread.
  Uniform,
  // Every payload and header vl at the vCPU's effective VL, as Linux writes
  // a process core; gdb 13 misreads threads whose VL differs from the
  // first thread's (see docs/dumps.md).
  Effective,
};
Result<SveNotes> parse_sve_notes(const std::string& text);
std::string to_string(SveNotes s);

struct CoreWriteOptions {
  SveNotes sve_notes = SveNotes::Gdb13;
  bool memory = false;
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

Status write_core(int fd, const std::vector<VcpuSnapshot>& vcpus, kvm::Backend& backend,
                  const CoreWriteOptions& options);

}  // namespace svedbg::introspect
