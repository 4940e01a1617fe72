// introspect::CoreBackend: an arm64 ELF core file behind the Backend API.
//
// Contract: open() reads an ELF64 little-endian ET_CORE for EM_AARCH64 with
// libelf: svedbg's own dumps (core_writer.hpp) and cores svedbg did not
// write (gdb `gcore`, the Linux kernel). Each NT_PRSTATUS starts a vCPU
// (vCPU i = the i-th thread, gdb thread i+1, named by the VMM's index the
// SVEDBG note recorded, else i: vmm_index()); the notes that follow it
// until the next NT_PRSTATUS belong to it: NT_FPREGSET, NT_ARM_SVE (SVE or
// FPSIMD payload), svedbg's "SVEDBG" note. get_one_reg answers the KVM
// register IDs from them with KVM's sizes and errnos: core x0..x30, sp, pc,
// pstate (NT_PRSTATUS), fpsr/fpcr and, on vCPUs without SVE, the V
// registers; SVE_VLS, Z/P/FFR (slice 0, 2048/256-bit containers, zero
// above the recorded data) and ZCR_EL1 on vCPUs with SVE; further 64-bit
// registers (EL1 system registers, sp_el1, elr_el1, spsr) when the SVEDBG
// note recorded them, ENOENT naming the register otherwise. The vector
// lengths come from the SVEDBG note when present (VLS, effective VL, the
// payload's VL); else the effective VL is the SVE header's vl and VLS is
// every length up to its max_vl. read_phys serves the PT_LOAD segments by
// p_vaddr (guest-physical for svedbg's dumps; virtual for a process core),
// stopping at the first byte no segment holds; memory_map() lists them.
// The file is read-only: set_one_reg and write_phys fail with EROFS; it
// never runs, so it offers no run control (run_control() is nullptr) and
// detach() says NeverRuns. A file that is not such
// a core, or whose notes are truncated, malformed or of the wrong size, or
// a thread without any FP/SIMD note, is refused with a message naming the
// file, the thread and what is missing or wrong; a PT_LOAD cut short by a
// truncated file is served as far as it goes and reported in warnings().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "introspect/core/core_reader.hpp"

namespace svedbg::introspect {

class CoreBackend final : public kvm::Backend {
 public:
  static Result<std::unique_ptr<CoreBackend>> open(const std::string& path);

  // Non-fatal findings (truncated memory segments), one line each.
  const std::vector<std::string>& warnings() const { return core_.warnings; }
  // "core file PATH: 4 vCPUs, SVE, svedbg dump" and the like.
  std::string describe() const;

  std::string name() const override { return "core"; }
  unsigned vcpu_count() const override { return static_cast<unsigned>(core_.vcpus.size()); }
  unsigned vmm_index(unsigned vcpu) const override { return core_.vcpus.at(vcpu).vmm_index; }
  Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) override;
  Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) override;
  Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) override;
  Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) override;
  std::vector<kvm::MemoryRange> memory_map() const override;
  // A core never runs: no run control (run_control() is nullptr), no
  // monitor commands of its own.
  Detached detach() override { return Detached::NeverRuns; }

 private:
  explicit CoreBackend(CoreImage image) : core_(std::move(image)) {}
  Status core_reg(const CoreVcpu& v, std::uint64_t id, std::span<std::byte> out) const;
  Status sve_reg(const CoreVcpu& v, std::uint64_t id, std::span<std::byte> out) const;

  CoreImage core_;
};

}  // namespace svedbg::introspect
