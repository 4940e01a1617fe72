#include "introspect/regmap.hpp"

#include <algorithm>

#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

using xml::RegClass;

std::optional<std::uint64_t> sysreg_id(xml::SysReg reg, bool vcpu_has_sve) {
  using xml::SysReg;
  switch (reg) {
    // ZCR_EL1 is hidden from vCPUs without SVE (KVM's sve_visibility()).
    case SysReg::ZcrEl1: return vcpu_has_sve ? std::optional(kvm::zcr_el1()) : std::nullopt;
    case SysReg::SctlrEl1: return kvm::sctlr_el1();
    case SysReg::TcrEl1: return kvm::tcr_el1();
    case SysReg::Ttbr0El1: return kvm::ttbr0_el1();
    case SysReg::Ttbr1El1: return kvm::ttbr1_el1();
    case SysReg::MairEl1: return kvm::mair_el1();
    case SysReg::VbarEl1: return kvm::vbar_el1();
    case SysReg::EsrEl1: return kvm::esr_el1();
    case SysReg::FarEl1: return kvm::far_el1();
    // KVM has no ARM64_SYS_REG accessor for these three: they live in the
    // core block (struct kvm_regs: sp_el1, elr_el1, spsr[KVM_SPSR_EL1]).
    case SysReg::ElrEl1: return kvm::core_elr_el1();
    case SysReg::SpsrEl1: return kvm::core_spsr(0);
    case SysReg::SpEl1: return kvm::core_sp_el1();
    case SysReg::MidrEl1: return kvm::midr_el1();
    case SysReg::MpidrEl1: return kvm::mpidr_el1();
  }
  return std::nullopt;
}

std::optional<std::uint64_t> kvm_id_for(const xml::RegSpec& spec, bool vcpu_has_sve) {
  switch (spec.cls) {
    case RegClass::X: return kvm::core_x(spec.index);
    case RegClass::Sp: return kvm::core_sp();
    case RegClass::Pc: return kvm::core_pc();
    case RegClass::Cpsr: return kvm::core_pstate();
    case RegClass::Fpsr: return kvm::core_fpsr();
    case RegClass::Fpcr: return kvm::core_fpcr();
    // KVM rejects FPSIMD V-register access on SVE vCPUs (EINVAL): there the
    // V registers are the low 128 bits of the Z registers.
    case RegClass::V: return vcpu_has_sve ? kvm::sve_zreg(spec.index) : kvm::core_vreg(spec.index);
    case RegClass::Z: return vcpu_has_sve ? kvm::sve_zreg(spec.index) : kvm::core_vreg(spec.index);
    case RegClass::P:
      if (!vcpu_has_sve) return std::nullopt;
      return kvm::sve_preg(spec.index);
    case RegClass::Ffr:
      if (!vcpu_has_sve) return std::nullopt;
      return kvm::sve_ffr();
    case RegClass::Vg: return std::nullopt;
    case RegClass::Sys: return sysreg_id(static_cast<xml::SysReg>(spec.index), vcpu_has_sve);
  }
  return std::nullopt;
}

std::size_t gdb_size(const xml::RegSpec& spec, unsigned size_vq) {
  switch (spec.cls) {
    case RegClass::Z: return 16u * size_vq;
    case RegClass::P:
    case RegClass::Ffr: return 2u * size_vq;
    default: return spec.bitsize / 8;
  }
}

namespace {
// Bytes of `spec` that the guest can see at its effective VL.
std::size_t visible_bytes(const xml::RegSpec& spec, const VcpuVl& vl) {
  switch (spec.cls) {
    case RegClass::Z: return vl.sve ? 16u * vl.effective_vq : 16u;
    case RegClass::P:
    case RegClass::Ffr: return vl.sve ? 2u * vl.effective_vq : 0u;
    default: return spec.bitsize / 8;
  }
}
}  // namespace

Bytes to_gdb(const xml::RegSpec& spec, std::span<const std::byte> raw, const VcpuVl& vl, unsigned size_vq) {
  Bytes out(gdb_size(spec, size_vq), std::byte{0});
  // Little-endian on the wire and in KVM: a 32-bit gdb register (cpsr) is
  // the low half of KVM's 64-bit pstate.
  const std::size_t n = std::min({out.size(), raw.size(), visible_bytes(spec, vl)});
  std::copy_n(raw.begin(), n, out.begin());
  return out;
}

void from_gdb(const xml::RegSpec& spec, std::span<const std::byte> data, const VcpuVl& vl, std::span<std::byte> raw) {
  const std::size_t visible = visible_bytes(spec, vl);
  const std::size_t n = std::min({data.size(), raw.size(), visible});
  std::copy_n(data.begin(), n, raw.begin());
  if (spec.cls == RegClass::Z || spec.cls == RegClass::P || spec.cls == RegClass::Ffr) {
    // Above the effective VL nothing is reachable by the guest: keep zero.
    for (std::size_t i = std::max(n, visible); i < raw.size(); ++i) raw[i] = std::byte{0};
  }
}

}  // namespace svedbg::introspect
