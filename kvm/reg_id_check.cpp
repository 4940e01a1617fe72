// Compile-time proof that kvm/reg_id.hpp matches the kernel's UAPI macros.
//
// Only meaningful when compiled for aarch64 against the target's
// <asm/kvm.h> (tests/kvm/check-reg-ids runs `aarch64-linux-gnu-g++
// -fsyntax-only` on this file); on any other host it is an empty
// translation unit, so the native build can glob it into svedbg_kvm.
#if defined(__aarch64__)

#include <cstddef>
#include <cstdint>
#include <utility>

#include <asm/kvm.h>
#include <linux/kvm.h>

#include "kvm/reg_id.hpp"

namespace svedbg::kvm::check {

// include/uapi/linux/kvm.h
static_assert(kRegArchMask == KVM_REG_ARCH_MASK);
static_assert(kRegArm64 == KVM_REG_ARM64);
static_assert(kRegSizeShift == KVM_REG_SIZE_SHIFT);
static_assert(kRegSizeMask == KVM_REG_SIZE_MASK);
static_assert(kRegSizeU8 == KVM_REG_SIZE_U8);
static_assert(kRegSizeU16 == KVM_REG_SIZE_U16);
static_assert(kRegSizeU32 == KVM_REG_SIZE_U32);
static_assert(kRegSizeU64 == KVM_REG_SIZE_U64);
static_assert(kRegSizeU128 == KVM_REG_SIZE_U128);
static_assert(kRegSizeU256 == KVM_REG_SIZE_U256);
static_assert(kRegSizeU512 == KVM_REG_SIZE_U512);
static_assert(kRegSizeU1024 == KVM_REG_SIZE_U1024);
static_assert(kRegSizeU2048 == KVM_REG_SIZE_U2048);

// arch/arm64/include/uapi/asm/kvm.h
static_assert(kRegArmCoprocMask == KVM_REG_ARM_COPROC_MASK);
static_assert(kRegArmCoprocShift == KVM_REG_ARM_COPROC_SHIFT);
static_assert(kRegArmCore == KVM_REG_ARM_CORE);
static_assert(kRegArmDemux == KVM_REG_ARM_DEMUX);
static_assert(kRegArm64Sysreg == KVM_REG_ARM64_SYSREG);
static_assert(kRegArmFw == KVM_REG_ARM_FW);
static_assert(kRegArm64Sve == KVM_REG_ARM64_SVE);
static_assert(kSveZregBase == KVM_REG_ARM64_SVE_ZREG_BASE);
static_assert(kSvePregBase == KVM_REG_ARM64_SVE_PREG_BASE);
static_assert(kSveFfrBase == KVM_REG_ARM64_SVE_FFR_BASE);
static_assert(kSveNumZregs == KVM_ARM64_SVE_NUM_ZREGS);
static_assert(kSveNumPregs == KVM_ARM64_SVE_NUM_PREGS);
static_assert(kSveMaxSlices == KVM_ARM64_SVE_MAX_SLICES);
static_assert(kSveVqMin == KVM_ARM64_SVE_VQ_MIN);
static_assert(kSveVqMax == KVM_ARM64_SVE_VQ_MAX);
static_assert(kSveVlsWords == KVM_ARM64_SVE_VLS_WORDS);
static_assert(kSysregOp0Shift == KVM_REG_ARM64_SYSREG_OP0_SHIFT && kSysregOp0Mask == KVM_REG_ARM64_SYSREG_OP0_MASK);
static_assert(kSysregOp1Shift == KVM_REG_ARM64_SYSREG_OP1_SHIFT && kSysregOp1Mask == KVM_REG_ARM64_SYSREG_OP1_MASK);
static_assert(kSysregCrnShift == KVM_REG_ARM64_SYSREG_CRN_SHIFT && kSysregCrnMask == KVM_REG_ARM64_SYSREG_CRN_MASK);
static_assert(kSysregCrmShift == KVM_REG_ARM64_SYSREG_CRM_SHIFT && kSysregCrmMask == KVM_REG_ARM64_SYSREG_CRM_MASK);
static_assert(kSysregOp2Shift == KVM_REG_ARM64_SYSREG_OP2_SHIFT && kSysregOp2Mask == KVM_REG_ARM64_SYSREG_OP2_MASK);

// struct kvm_regs layout
static_assert(layout::kRegs == offsetof(struct kvm_regs, regs.regs));
static_assert(layout::kSp == offsetof(struct kvm_regs, regs.sp));
static_assert(layout::kPc == offsetof(struct kvm_regs, regs.pc));
static_assert(layout::kPstate == offsetof(struct kvm_regs, regs.pstate));
static_assert(layout::kSpEl1 == offsetof(struct kvm_regs, sp_el1));
static_assert(layout::kElrEl1 == offsetof(struct kvm_regs, elr_el1));
static_assert(layout::kSpsr == offsetof(struct kvm_regs, spsr));
static_assert(layout::kNrSpsr == KVM_NR_SPSR);
static_assert(layout::kFpRegs == offsetof(struct kvm_regs, fp_regs));
static_assert(layout::kVregs == offsetof(struct kvm_regs, fp_regs.vregs));
static_assert(layout::kFpsr == offsetof(struct kvm_regs, fp_regs.fpsr));
static_assert(layout::kFpcr == offsetof(struct kvm_regs, fp_regs.fpcr));
static_assert(layout::kSizeofKvmRegs == sizeof(struct kvm_regs));

// Core register IDs, as userspace (QEMU's AARCH64_CORE_REG) builds them.
#define SVEDBG_CORE(size, name) (KVM_REG_ARM64 | (size) | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))

template <std::size_t... N>
constexpr bool all_x(std::index_sequence<N...>) {
  return ((core_x(N) == SVEDBG_CORE(KVM_REG_SIZE_U64, regs.regs[N])) && ...);
}
template <std::size_t... N>
constexpr bool all_v(std::index_sequence<N...>) {
  return ((core_vreg(N) == SVEDBG_CORE(KVM_REG_SIZE_U128, fp_regs.vregs[N])) && ...);
}
template <std::size_t... N>
constexpr bool all_spsr(std::index_sequence<N...>) {
  return ((core_spsr(N) == SVEDBG_CORE(KVM_REG_SIZE_U64, spsr[N])) && ...);
}
static_assert(all_x(std::make_index_sequence<31>{}));
static_assert(all_v(std::make_index_sequence<32>{}));
static_assert(all_spsr(std::make_index_sequence<KVM_NR_SPSR>{}));
static_assert(core_sp() == SVEDBG_CORE(KVM_REG_SIZE_U64, regs.sp));
static_assert(core_pc() == SVEDBG_CORE(KVM_REG_SIZE_U64, regs.pc));
static_assert(core_pstate() == SVEDBG_CORE(KVM_REG_SIZE_U64, regs.pstate));
static_assert(core_sp_el1() == SVEDBG_CORE(KVM_REG_SIZE_U64, sp_el1));
static_assert(core_elr_el1() == SVEDBG_CORE(KVM_REG_SIZE_U64, elr_el1));
static_assert(core_fpsr() == SVEDBG_CORE(KVM_REG_SIZE_U32, fp_regs.fpsr));
static_assert(core_fpcr() == SVEDBG_CORE(KVM_REG_SIZE_U32, fp_regs.fpcr));
static_assert(core_spsr(KVM_SPSR_EL1) == core_spsr(0));
#undef SVEDBG_CORE

// SVE IDs: every register number and slice, including the masking the
// macros do on out-of-range arguments.
constexpr bool all_sve() {
  for (unsigned n = 0; n < 40; ++n)
    for (unsigned i = 0; i < 40; ++i) {
      if (sve_zreg(n, i) != KVM_REG_ARM64_SVE_ZREG(n, i)) return false;
      if (sve_preg(n, i) != KVM_REG_ARM64_SVE_PREG(n, i)) return false;
      if (sve_ffr(i) != KVM_REG_ARM64_SVE_FFR(i)) return false;
      if (reg_size(sve_zreg(n, i)) != KVM_REG_SIZE(KVM_REG_ARM64_SVE_ZREG(n, i))) return false;
      if (reg_size(sve_preg(n, i)) != KVM_REG_SIZE(KVM_REG_ARM64_SVE_PREG(n, i))) return false;
    }
  return true;
}
static_assert(all_sve());
static_assert(sve_vls() == KVM_REG_ARM64_SVE_VLS);
static_assert(reg_size(sve_vls()) == KVM_ARM64_SVE_VLS_WORDS * sizeof(__u64));
static_assert(reg_size(sve_zreg(0)) == kZregBytes && reg_size(sve_preg(0)) == kPregBytes &&
              reg_size(sve_ffr()) == kPregBytes && reg_size(sve_vls()) == kVlsBytes);

// System registers.
constexpr bool all_sysreg() {
  for (unsigned op0 = 0; op0 < 4; ++op0)
    for (unsigned op1 = 0; op1 < 8; ++op1)
      for (unsigned crn = 0; crn < 16; ++crn)
        for (unsigned crm = 0; crm < 16; ++crm)
          for (unsigned op2 = 0; op2 < 8; ++op2) {
            const std::uint64_t id = sys_reg(op0, op1, crn, crm, op2);
            if (id != ARM64_SYS_REG(op0, op1, crn, crm, op2)) return false;
            if (sys_op0(id) != op0 || sys_op1(id) != op1 || sys_crn(id) != crn || sys_crm(id) != crm ||
                sys_op2(id) != op2)
              return false;
          }
  return true;
}
static_assert(all_sysreg());
static_assert(midr_el1() == ARM64_SYS_REG(3, 0, 0, 0, 0));
static_assert(mpidr_el1() == ARM64_SYS_REG(3, 0, 0, 0, 5));
static_assert(mair_el1() == ARM64_SYS_REG(3, 0, 10, 2, 0));
static_assert(sctlr_el1() == ARM64_SYS_REG(3, 0, 1, 0, 0));
static_assert(zcr_el1() == ARM64_SYS_REG(3, 0, 1, 2, 0));
static_assert(ttbr0_el1() == ARM64_SYS_REG(3, 0, 2, 0, 0));
static_assert(ttbr1_el1() == ARM64_SYS_REG(3, 0, 2, 0, 1));
static_assert(tcr_el1() == ARM64_SYS_REG(3, 0, 2, 0, 2));
static_assert(spsr_el1() == ARM64_SYS_REG(3, 0, 4, 0, 0));
static_assert(elr_el1() == ARM64_SYS_REG(3, 0, 4, 0, 1));
static_assert(esr_el1() == ARM64_SYS_REG(3, 0, 5, 2, 0));
static_assert(far_el1() == ARM64_SYS_REG(3, 0, 6, 0, 0));
static_assert(vbar_el1() == ARM64_SYS_REG(3, 0, 12, 0, 0));
// A kernel-defined sysreg ID, to catch a systematic error in both tables.
static_assert(sys_reg(3, 3, 14, 3, 1) == KVM_REG_ARM_TIMER_CTL);

// Decoding helpers against kernel IDs.
static_assert(is_core(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(regs.pc)));
static_assert(core_offset(core_pc()) == KVM_REG_ARM_CORE_REG(regs.pc));
static_assert(is_sve(KVM_REG_ARM64_SVE_VLS) && is_sve_vls(KVM_REG_ARM64_SVE_VLS));
static_assert(is_sve_zreg(KVM_REG_ARM64_SVE_ZREG(31, 31)) && !is_sve_zreg(KVM_REG_ARM64_SVE_PREG(0, 0)));
static_assert(is_sve_preg(KVM_REG_ARM64_SVE_PREG(15, 31)) && !is_sve_preg(KVM_REG_ARM64_SVE_FFR(0)));
static_assert(is_sve_ffr(KVM_REG_ARM64_SVE_FFR(31)) && !is_sve_ffr(KVM_REG_ARM64_SVE_VLS));
static_assert(sve_reg_num(KVM_REG_ARM64_SVE_ZREG(17, 3)) == 17 && sve_slice(KVM_REG_ARM64_SVE_ZREG(17, 3)) == 3);
static_assert(is_sysreg(ARM64_SYS_REG(3, 0, 1, 2, 0)) && !is_sysreg(KVM_REG_ARM_PSCI_VERSION));

}  // namespace svedbg::kvm::check

#elif defined(SVEDBG_REG_ID_CHECK)
#error "kvm/reg_id_check.cpp must be compiled for aarch64 (aarch64-linux-gnu-g++)"
#endif
