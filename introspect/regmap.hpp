// introspect::regmap: GDB register <-> KVM register ID, per vector length.
//
// Contract: maps a target-description register (xml::RegSpec) to the KVM
// register that holds it on a given vCPU, and shapes bytes between the two:
// KVM transfers Z/P/FFR at the 2048-bit container size with data up to the
// vCPU's maximum VL (zero above); gdb gets `size_vq` quadwords (the
// description's VL, or the thread's effective VL in effective mode), with
// every byte at or above the *effective* VL shown as zero, as the hardware
// shows them to the guest. Writes from gdb are merged the same way (bytes
// above the effective VL are not architecturally reachable and stay zero).
// `vg` has no KVM register: it is 2 * effective vq, derived from ZCR_EL1.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "gdbstub/target.hpp"
#include "xml-targets/tdesc.hpp"

namespace svedbg::introspect {

using gdbstub::Bytes;

struct VcpuVl {
  bool sve = false;
  unsigned max_vq = 1;        // largest vq enabled in VLS
  unsigned effective_vq = 1;  // from ZCR_EL1, clamped to an enabled vq
};

// The KVM register of an EL1 system register of the sysregs feature.
std::optional<std::uint64_t> sysreg_id(xml::SysReg reg, bool vcpu_has_sve);

// The KVM register holding `spec` on a vCPU with/without SVE; nullopt for
// registers that have none (vg; p/ffr on a vCPU without SVE).
std::optional<std::uint64_t> kvm_id_for(const xml::RegSpec& spec, bool vcpu_has_sve);

// Bytes gdb sees for `spec`, from the KVM value `raw` (kvm::reg_size bytes).
Bytes to_gdb(const xml::RegSpec& spec, std::span<const std::byte> raw, const VcpuVl& vl, unsigned size_vq);
// Size in bytes gdb uses for `spec` at `size_vq`.
std::size_t gdb_size(const xml::RegSpec& spec, unsigned size_vq);
// Merge gdb's bytes into the KVM value `raw` (in place).
void from_gdb(const xml::RegSpec& spec, std::span<const std::byte> data, const VcpuVl& vl, std::span<std::byte> raw);

}  // namespace svedbg::introspect
