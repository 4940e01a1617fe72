// Compile-time proof that introspect/core/core_layout.hpp matches the arm64
// kernel and glibc headers (struct elf_prstatus, user_pt_regs,
// user_fpsimd_state, user_sve_header, SVE_PT_* macros, NT_* numbers).
//
// Only meaningful when compiled for aarch64 (tests/core/check-core-layout
// runs `aarch64-linux-gnu-g++ -fsyntax-only` on this file); on any other
// host it is an empty translation unit, so the native build can glob it
// into svedbg_introspect.
#if defined(__aarch64__)

#include <elf.h>
#include <sys/procfs.h>
#include <asm/ptrace.h>

#include <cstddef>

#include "introspect/core/core_layout.hpp"

namespace svedbg::introspect::core_layout::check {

static_assert(kNtPrstatus == NT_PRSTATUS);
static_assert(kNtFpregset == NT_FPREGSET);
static_assert(kNtArmSve == NT_ARM_SVE);

static_assert(kPrstatusSize == sizeof(struct elf_prstatus));
static_assert(kPrCursig == offsetof(struct elf_prstatus, pr_cursig));
static_assert(kPrPid == offsetof(struct elf_prstatus, pr_pid));
static_assert(kPrReg == offsetof(struct elf_prstatus, pr_reg));
static_assert(kPrFpvalid == offsetof(struct elf_prstatus, pr_fpvalid));
static_assert(kUserPtRegsSize == sizeof(struct user_pt_regs));
static_assert(kUserPtRegsSize == sizeof(elf_gregset_t));
static_assert(kPtSp == offsetof(struct user_pt_regs, sp));
static_assert(kPtPc == offsetof(struct user_pt_regs, pc));
static_assert(kPtPstate == offsetof(struct user_pt_regs, pstate));

static_assert(kFpsimdSize == sizeof(struct user_fpsimd_state));
static_assert(kFpsimdFpsr == offsetof(struct user_fpsimd_state, fpsr));
static_assert(kFpsimdFpcr == offsetof(struct user_fpsimd_state, fpcr));

static_assert(kSveHeaderSize == sizeof(struct user_sve_header));
static_assert(kSveHdrSize == offsetof(struct user_sve_header, size));
static_assert(kSveHdrMaxSize == offsetof(struct user_sve_header, max_size));
static_assert(kSveHdrVl == offsetof(struct user_sve_header, vl));
static_assert(kSveHdrMaxVl == offsetof(struct user_sve_header, max_vl));
static_assert(kSveHdrFlags == offsetof(struct user_sve_header, flags));
static_assert(kSvePtRegsMask == SVE_PT_REGS_MASK);
static_assert(kSvePtRegsFpsimd == SVE_PT_REGS_FPSIMD);
static_assert(kSvePtRegsSve == SVE_PT_REGS_SVE);
static_assert(kSvePtRegsOffset == SVE_PT_REGS_OFFSET);
static_assert(kSvePtSizeFpsimd == SVE_PT_SIZE(1, SVE_PT_REGS_FPSIMD));

template <unsigned vq>
constexpr bool same_sve_layout() {
  static_assert(sve_zreg_offset(vq, 0) == SVE_PT_SVE_ZREG_OFFSET(vq, 0));
  static_assert(sve_zreg_offset(vq, 31) == SVE_PT_SVE_ZREG_OFFSET(vq, 31));
  static_assert(sve_zreg_size(vq) == SVE_PT_SVE_ZREG_SIZE(vq));
  static_assert(sve_preg_offset(vq, 0) == SVE_PT_SVE_PREG_OFFSET(vq, 0));
  static_assert(sve_preg_offset(vq, 15) == SVE_PT_SVE_PREG_OFFSET(vq, 15));
  static_assert(sve_preg_size(vq) == SVE_PT_SVE_PREG_SIZE(vq));
  static_assert(sve_ffr_offset(vq) == SVE_PT_SVE_FFR_OFFSET(vq));
  static_assert(sve_fpsr_offset(vq) == SVE_PT_SVE_FPSR_OFFSET(vq));
  static_assert(sve_fpcr_offset(vq) == SVE_PT_SVE_FPCR_OFFSET(vq));
  static_assert(sve_pt_size_sve(vq) == SVE_PT_SIZE(vq, SVE_PT_REGS_SVE));
  return true;
}
static_assert(same_sve_layout<1>() && same_sve_layout<2>() && same_sve_layout<3>() && same_sve_layout<4>() &&
              same_sve_layout<5>() && same_sve_layout<7>() && same_sve_layout<8>() && same_sve_layout<11>() &&
              same_sve_layout<15>() && same_sve_layout<16>());

}  // namespace svedbg::introspect::core_layout::check

#elif defined(SVEDBG_CORE_LAYOUT_CHECK)
#error "core_layout_check.cpp must be compiled for aarch64 (use aarch64-linux-gnu-g++)"
#endif
