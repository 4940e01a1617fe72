// kvm/reg_id.hpp: IDs computed by hand from the kernel macros (the
// cross-compiled kvm/reg_id_check.cpp checks all of them against <asm/kvm.h>).
#include <catch2/catch.hpp>

#include "kvm/reg_id.hpp"

using namespace svedbg::kvm;

// KVM_REG_ARM64 | size | coproc | index, written out:
//   core:   0x60 | 0x003 (U64) | 0x0010 << 16 | offsetof(kvm_regs, f) / 4
//   SVE:    0x60 | size | 0x0015 << 16 | base | n << 5 | slice
//   sysreg: 0x6030 | 0x0013 << 16 | op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2
TEST_CASE("core register IDs", "[regid]") {
  static_assert(core_pc() == 0x6030000000100040ULL);  // pc at byte 256 = u32 index 0x40
  CHECK(core_x(0) == 0x6030000000100000ULL);
  CHECK(core_x(1) == 0x6030000000100002ULL);
  CHECK(core_x(30) == 0x603000000010003cULL);
  CHECK(core_sp() == 0x603000000010003eULL);
  CHECK(core_pstate() == 0x6030000000100042ULL);
  CHECK(core_sp_el1() == 0x6030000000100044ULL);
  CHECK(core_elr_el1() == 0x6030000000100046ULL);
  CHECK(core_spsr(0) == 0x6030000000100048ULL);
  CHECK(core_spsr(4) == 0x6030000000100050ULL);
  // fp_regs starts at byte 336 (16-aligned), not 328: u32 index 0x54.
  CHECK(core_vreg(0) == 0x6040000000100054ULL);
  CHECK(core_vreg(31) == 0x60400000001000d0ULL);
  CHECK(core_fpsr() == 0x60200000001000d4ULL);
  CHECK(core_fpcr() == 0x60200000001000d5ULL);
  CHECK(is_core(core_fpcr()));
  CHECK(core_offset(core_fpcr()) == 0xd5);
  CHECK_FALSE(is_sve(core_pc()));
  CHECK_FALSE(is_sysreg(core_pc()));
}

TEST_CASE("SVE register IDs", "[regid]") {
  static_assert(sve_zreg(0) == 0x6080000000150000ULL);
  CHECK(sve_zreg(1) == 0x6080000000150020ULL);
  CHECK(sve_zreg(31) == 0x60800000001503e0ULL);
  CHECK(sve_zreg(5, 1) == 0x60800000001500a1ULL);
  CHECK(sve_preg(0) == 0x6050000000150400ULL);
  CHECK(sve_preg(15) == 0x60500000001505e0ULL);
  CHECK(sve_ffr() == 0x6050000000150600ULL);
  CHECK(sve_vls() == 0x606000000015ffffULL);
  // The kernel macros mask n and the slice.
  CHECK(sve_zreg(32) == sve_zreg(0));
  CHECK(sve_preg(16, 33) == sve_preg(0, 1));

  CHECK(is_sve(sve_vls()));
  CHECK(is_sve_vls(sve_vls()));
  CHECK(is_sve_zreg(sve_zreg(31, 31)));
  CHECK_FALSE(is_sve_zreg(sve_preg(0)));
  CHECK(is_sve_preg(sve_preg(15, 31)));
  CHECK_FALSE(is_sve_preg(sve_ffr()));
  CHECK(is_sve_ffr(sve_ffr(3)));
  CHECK_FALSE(is_sve_ffr(sve_vls()));
  // The wrong size field takes an ID out of the Z range.
  CHECK_FALSE(is_sve_zreg((sve_zreg(0) & ~kRegSizeMask) | kRegSizeU1024));
  CHECK(sve_reg_num(sve_zreg(17, 3)) == 17);
  CHECK(sve_slice(sve_zreg(17, 3)) == 3);
  CHECK(sve_reg_num(sve_preg(9)) == 9);
  CHECK(sve_reg_num(sve_ffr()) == 16);
}

TEST_CASE("system register IDs", "[regid]") {
  // ZCR_EL1 = (3,0,1,2,0): 0xc000 | 0x80 | 0x10.
  static_assert(zcr_el1() == 0x603000000013c090ULL);
  CHECK(sys_reg(3, 0, 1, 2, 0) == zcr_el1());
  CHECK(midr_el1() == 0x603000000013c000ULL);
  CHECK(mpidr_el1() == 0x603000000013c005ULL);
  CHECK(sctlr_el1() == 0x603000000013c080ULL);
  CHECK(ttbr0_el1() == 0x603000000013c100ULL);
  CHECK(ttbr1_el1() == 0x603000000013c101ULL);
  CHECK(tcr_el1() == 0x603000000013c102ULL);
  CHECK(spsr_el1() == 0x603000000013c200ULL);
  CHECK(elr_el1() == 0x603000000013c201ULL);
  CHECK(esr_el1() == 0x603000000013c290ULL);
  CHECK(far_el1() == 0x603000000013c300ULL);
  CHECK(vbar_el1() == 0x603000000013c600ULL);
  CHECK(sys_reg(3, 3, 14, 3, 1) == 0x603000000013df19ULL);  // KVM_REG_ARM_TIMER_CTL
  CHECK(is_sysreg(zcr_el1()));
  CHECK(sys_op0(vbar_el1()) == 3);
  CHECK(sys_op1(sys_reg(3, 3, 14, 3, 1)) == 3);
  CHECK(sys_crn(vbar_el1()) == 12);
  CHECK(sys_crm(esr_el1()) == 2);
  CHECK(sys_op2(mpidr_el1()) == 5);
}

TEST_CASE("reg_size and arch checks", "[regid]") {
  CHECK(reg_size(core_pc()) == 8);
  CHECK(reg_size(core_fpsr()) == 4);
  CHECK(reg_size(core_vreg(3)) == 16);
  CHECK(reg_size(sve_zreg(3)) == 256);
  CHECK(reg_size(sve_preg(3)) == 32);
  CHECK(reg_size(sve_ffr()) == 32);
  CHECK(reg_size(sve_vls()) == 64);
  CHECK(reg_size(zcr_el1()) == 8);
  CHECK(reg_size(kRegArm64 | kRegSizeU8) == 1);
  CHECK(reg_size(kRegArm64 | kRegSizeU1024) == 128);

  CHECK(is_arm64(core_pc()));
  CHECK_FALSE(is_arm64(core_pc() | (1ULL << 40)));  // stray bits 51..32
  CHECK_FALSE(is_arm64(0x4030000000100040ULL));     // KVM_REG_ARM (32-bit)
  CHECK_FALSE(is_core(0x4030000000100040ULL));
}

TEST_CASE("reg_name", "[regid]") {
  CHECK(reg_name(core_x(3)) == "x3");
  CHECK(reg_name(core_x(30)) == "x30");
  CHECK(reg_name(core_sp()) == "sp");
  CHECK(reg_name(core_pc()) == "pc");
  CHECK(reg_name(core_pstate()) == "pstate");
  CHECK(reg_name(core_sp_el1()) == "sp_el1");
  CHECK(reg_name(core_elr_el1()) == "elr_el1");
  CHECK(reg_name(core_spsr(2)) == "spsr[2]");
  CHECK(reg_name(core_vreg(7)) == "v7");
  CHECK(reg_name(core_fpsr()) == "fp_regs.fpsr");
  CHECK(reg_name(core_fpcr()) == "fp_regs.fpcr");
  CHECK(reg_name(sve_zreg(5)) == "z5");
  CHECK(reg_name(sve_zreg(5, 1)) == "z5 (slice 1)");
  CHECK(reg_name(sve_preg(2)) == "p2");
  CHECK(reg_name(sve_ffr()) == "ffr");
  CHECK(reg_name(sve_vls()) == "SVE_VLS");
  CHECK(reg_name(zcr_el1()) == "ZCR_EL1");
  CHECK(reg_name(midr_el1()) == "MIDR_EL1");
  CHECK(reg_name(mpidr_el1()) == "MPIDR_EL1");
  CHECK(reg_name(sctlr_el1()) == "SCTLR_EL1");
  CHECK(reg_name(elr_el1()) == "ELR_EL1");
  CHECK(reg_name(spsr_el1()) == "SPSR_EL1");
  CHECK(reg_name(sys_reg(3, 3, 14, 3, 1)) == "S3_3_C14_C3_1");
  // Wrong size field, unknown offsets, other coprocs: the hex ID.
  CHECK(reg_name((core_x(0) & ~kRegSizeMask) | kRegSizeU32) == "0x6020000000100000");
  CHECK(reg_name(kRegArm64 | kRegSizeU64 | kRegArmCore | 0x1) == "0x6030000000100001");
  CHECK(reg_name(kRegArm64 | kRegSizeU64 | kRegArmFw) == "0x6030000000140000");
  CHECK(reg_name(0) == "0x0000000000000000");
}
