// introspect::VcpuSnapshot: everything a dump records about one vCPU.
//
// Contract: take_snapshot() reads one stopped vCPU through the Backend with
// the KVM register IDs of kvm/reg_id.hpp only (so it works for every
// backend): SVE_VLS (ENOENT = no SVE), ZCR_EL1 for the effective VL, the
// core registers, fpsr/fpcr, Z/P/FFR (SVE) or the FPSIMD V registers (no
// SVE), and the EL1 system registers of the sysregs feature (named as in
// the target description). Vector registers are kept in their KVM
// containers with every byte at or above the effective VL cleared, which is
// what the guest and the live stub show; on a vCPU without SVE, z[n] holds
// V n in its low 16 bytes. A core register, VLS, ZCR_EL1 or vector register
// that cannot be read fails the snapshot (message naming vCPU and
// register); an unreadable system register is recorded in sysreg_errors
// instead, as the live stub's `g` packet tolerates it. The caller keeps the
// guest stopped (see PausedGuest).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"
#include "kvm/reg_id.hpp"
#include "kvm/vls.hpp"

namespace svedbg::introspect {

struct SysregValue {
  std::string name;  // target-description name, e.g. "sctlr_el1"
  std::uint64_t id;  // the KVM register it was read from
  std::uint64_t value;
};

struct SysregError {
  std::string name;
  std::string message;
};

struct VcpuSnapshot {
  unsigned index = 0;      // the backend's vCPU: the dump's order, gdb thread index - 1
  unsigned vmm_index = 0;  // the VMM's own index of it (kvm::Backend::vmm_index; differs with --vcpus)
  bool sve = false;
  kvm::VqSet vls;             // empty without SVE
  unsigned max_vq = 1;        // largest vq in vls (1 without SVE: 128-bit V registers)
  unsigned effective_vq = 1;  // from ZCR_EL1 (1 without SVE)
  std::array<std::uint64_t, 31> x{};
  std::uint64_t sp = 0, pc = 0, pstate = 0;
  std::uint32_t fpsr = 0, fpcr = 0;
  std::vector<SysregValue> sysregs;
  std::vector<SysregError> sysreg_errors;
  std::array<std::array<std::byte, kvm::kZregBytes>, kvm::kSveNumZregs> z{};
  std::array<std::array<std::byte, kvm::kPregBytes>, kvm::kSveNumPregs> p{};
  std::array<std::byte, kvm::kPregBytes> ffr{};

  // Bytes of Z / P / FFR the guest sees (16 and 0 without SVE).
  std::size_t z_bytes() const { return 16u * effective_vq; }
  std::size_t p_bytes() const { return sve ? 2u * effective_vq : 0u; }
};

Result<VcpuSnapshot> take_snapshot(kvm::Backend& backend, unsigned vcpu);
Result<std::vector<VcpuSnapshot>> take_snapshots(kvm::Backend& backend);

}  // namespace svedbg::introspect
