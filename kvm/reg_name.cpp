// Human names for KVM register IDs (see reg_id.hpp).
#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "kvm/reg_id.hpp"

namespace svedbg::kvm {
namespace {

std::string hex_id(std::uint64_t id) { return fmt::format("{:#018x}", id); }

std::string core_name(std::uint64_t id) {
  for (unsigned n = 0; n <= 30; ++n)
    if (id == core_x(n)) return fmt::format("x{}", n);
  if (id == core_sp()) return "sp";
  if (id == core_pc()) return "pc";
  if (id == core_pstate()) return "pstate";
  if (id == core_sp_el1()) return "sp_el1";
  if (id == core_elr_el1()) return "elr_el1";
  for (unsigned i = 0; i < layout::kNrSpsr; ++i)
    if (id == core_spsr(i)) return fmt::format("spsr[{}]", i);
  for (unsigned n = 0; n < 32; ++n)
    if (id == core_vreg(n)) return fmt::format("v{}", n);
  if (id == core_fpsr()) return "fp_regs.fpsr";
  if (id == core_fpcr()) return "fp_regs.fpcr";
  return hex_id(id);
}

std::string sve_name(std::uint64_t id) {
  if (is_sve_vls(id)) return "SVE_VLS";
  std::string base;
  if (is_sve_zreg(id)) {
    base = fmt::format("z{}", sve_reg_num(id));
  } else if (is_sve_preg(id)) {
    base = fmt::format("p{}", sve_reg_num(id));
  } else if (is_sve_ffr(id)) {
    base = "ffr";
  } else {
    return hex_id(id);
  }
  const unsigned slice = sve_slice(id);
  return slice == 0 ? base : fmt::format("{} (slice {})", base, slice);
}

std::string sysreg_name(std::uint64_t id) {
  // Only IDs that sys_reg() can produce: U64 and no stray bits.
  const std::uint64_t field_bits = kSysregOp0Mask | kSysregOp1Mask | kSysregCrnMask | kSysregCrmMask | kSysregOp2Mask;
  if (reg_size_field(id) != kRegSizeU64 || (id & ~(kRegArchMask | kRegSizeMask | kRegArmCoprocMask | field_bits)) != 0)
    return hex_id(id);
  static constexpr std::array<std::pair<std::uint64_t, const char*>, 13> kNamed{{
      {midr_el1(), "MIDR_EL1"},
      {mpidr_el1(), "MPIDR_EL1"},
      {mair_el1(), "MAIR_EL1"},
      {sctlr_el1(), "SCTLR_EL1"},
      {zcr_el1(), "ZCR_EL1"},
      {ttbr0_el1(), "TTBR0_EL1"},
      {ttbr1_el1(), "TTBR1_EL1"},
      {tcr_el1(), "TCR_EL1"},
      {spsr_el1(), "SPSR_EL1"},
      {elr_el1(), "ELR_EL1"},
      {esr_el1(), "ESR_EL1"},
      {far_el1(), "FAR_EL1"},
      {vbar_el1(), "VBAR_EL1"},
  }};
  for (const auto& [named, name] : kNamed)
    if (named == id) return name;
  // The assembler's generic spelling of an unnamed system register.
  return fmt::format("S{}_{}_C{}_C{}_{}", sys_op0(id), sys_op1(id), sys_crn(id), sys_crm(id), sys_op2(id));
}

}  // namespace

std::string reg_name(std::uint64_t id) {
  if (is_core(id)) return core_name(id);
  if (is_sve(id)) return sve_name(id);
  if (is_sysreg(id)) return sysreg_name(id);
  return hex_id(id);
}

}  // namespace svedbg::kvm
