// KVM register IDs for arm64, as constexpr functions.
//
// Contract: every function here returns exactly the 64-bit ID that the
// corresponding kernel macro produces (include/uapi/linux/kvm.h:
// KVM_REG_ARM64, KVM_REG_SIZE_*; arch/arm64/include/uapi/asm/kvm.h:
// KVM_REG_ARM_CORE_REG, ARM64_SYS_REG, KVM_REG_ARM64_SVE_ZREG/PREG/FFR/VLS),
// so the IDs can be passed to KVM_GET_ONE_REG / KVM_SET_ONE_REG unchanged and
// compared with KVM_GET_REG_LIST output. The header has no kernel dependency
// (it builds on any host); kvm/reg_id_check.cpp static_asserts every function
// against <asm/kvm.h> when compiled for aarch64 (tests/kvm/check-reg-ids).
// Arguments out of range are masked exactly where the kernel macro masks them
// (SVE register number and slice); for the core registers they are a
// precondition (n <= 30 for x, n <= 31 for v, i <= 4 for spsr). reg_name()
// gives a short human name ("x3", "z5", "ZCR_EL1") for error messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace svedbg::kvm {

// --- include/uapi/linux/kvm.h -------------------------------------------
inline constexpr std::uint64_t kRegArchMask = 0xff00000000000000ULL;  // KVM_REG_ARCH_MASK
inline constexpr std::uint64_t kRegArm64 = 0x6000000000000000ULL;     // KVM_REG_ARM64
inline constexpr unsigned kRegSizeShift = 52;                         // KVM_REG_SIZE_SHIFT
inline constexpr std::uint64_t kRegSizeMask = 0x00f0000000000000ULL;  // KVM_REG_SIZE_MASK
inline constexpr std::uint64_t kRegSizeU8 = 0x0000000000000000ULL;
inline constexpr std::uint64_t kRegSizeU16 = 0x0010000000000000ULL;
inline constexpr std::uint64_t kRegSizeU32 = 0x0020000000000000ULL;
inline constexpr std::uint64_t kRegSizeU64 = 0x0030000000000000ULL;
inline constexpr std::uint64_t kRegSizeU128 = 0x0040000000000000ULL;
inline constexpr std::uint64_t kRegSizeU256 = 0x0050000000000000ULL;
inline constexpr std::uint64_t kRegSizeU512 = 0x0060000000000000ULL;
inline constexpr std::uint64_t kRegSizeU1024 = 0x0070000000000000ULL;
inline constexpr std::uint64_t kRegSizeU2048 = 0x0080000000000000ULL;

// --- arch/arm64/include/uapi/asm/kvm.h ----------------------------------
inline constexpr std::uint64_t kRegArmCoprocMask = 0x000000000FFF0000ULL;  // KVM_REG_ARM_COPROC_MASK
inline constexpr unsigned kRegArmCoprocShift = 16;
inline constexpr std::uint64_t kRegArmCore = 0x0010ULL << kRegArmCoprocShift;      // KVM_REG_ARM_CORE
inline constexpr std::uint64_t kRegArmDemux = 0x0011ULL << kRegArmCoprocShift;     // KVM_REG_ARM_DEMUX
inline constexpr std::uint64_t kRegArm64Sysreg = 0x0013ULL << kRegArmCoprocShift;  // KVM_REG_ARM64_SYSREG
inline constexpr std::uint64_t kRegArmFw = 0x0014ULL << kRegArmCoprocShift;        // KVM_REG_ARM_FW
inline constexpr std::uint64_t kRegArm64Sve = 0x0015ULL << kRegArmCoprocShift;     // KVM_REG_ARM64_SVE

inline constexpr std::uint64_t kSveZregBase = 0;                            // KVM_REG_ARM64_SVE_ZREG_BASE
inline constexpr std::uint64_t kSvePregBase = 0x400;                        // KVM_REG_ARM64_SVE_PREG_BASE
inline constexpr std::uint64_t kSveFfrBase = 0x600;                         // KVM_REG_ARM64_SVE_FFR_BASE
inline constexpr unsigned kSveNumZregs = 32;                                // KVM_ARM64_SVE_NUM_ZREGS
inline constexpr unsigned kSveNumPregs = 16;                                // KVM_ARM64_SVE_NUM_PREGS
inline constexpr unsigned kSveMaxSlices = 32;                               // KVM_ARM64_SVE_MAX_SLICES
inline constexpr unsigned kSveVqMin = 1;                                    // KVM_ARM64_SVE_VQ_MIN (__SVE_VQ_MIN)
inline constexpr unsigned kSveVqMax = 512;                                  // KVM_ARM64_SVE_VQ_MAX (__SVE_VQ_MAX)
inline constexpr unsigned kSveVlsWords = (kSveVqMax - kSveVqMin) / 64 + 1;  // KVM_ARM64_SVE_VLS_WORDS = 8
// Container sizes of one slice (slice 0 covers VL <= 2048 bits, the
// architectural maximum, so slice 0 is the only one KVM accepts today).
inline constexpr std::size_t kZregBytes = 256;  // KVM_REG_SIZE_U2048
inline constexpr std::size_t kPregBytes = 32;   // KVM_REG_SIZE_U256
inline constexpr std::size_t kVlsBytes = 64;    // KVM_REG_SIZE_U512

inline constexpr unsigned kSysregOp0Shift = 14;
inline constexpr std::uint64_t kSysregOp0Mask = 0x000000000000c000ULL;
inline constexpr unsigned kSysregOp1Shift = 11;
inline constexpr std::uint64_t kSysregOp1Mask = 0x0000000000003800ULL;
inline constexpr unsigned kSysregCrnShift = 7;
inline constexpr std::uint64_t kSysregCrnMask = 0x0000000000000780ULL;
inline constexpr unsigned kSysregCrmShift = 3;
inline constexpr std::uint64_t kSysregCrmMask = 0x0000000000000078ULL;
inline constexpr unsigned kSysregOp2Shift = 0;
inline constexpr std::uint64_t kSysregOp2Mask = 0x0000000000000007ULL;

// Byte offsets inside struct kvm_regs { struct user_pt_regs regs; __u64
// sp_el1; __u64 elr_el1; __u64 spsr[KVM_NR_SPSR]; struct user_fpsimd_state
// fp_regs; } (arch/arm64/include/uapi/asm/{kvm,ptrace}.h). user_pt_regs is
// regs[31], sp, pc, pstate (272 bytes); spsr[5] ends at 328, and fp_regs
// starts at 336 because user_fpsimd_state holds __uint128_t vregs[32] and is
// therefore 16-byte aligned. fpsr/fpcr are __u32 after the 512 vreg bytes.
namespace layout {
inline constexpr std::size_t kRegs = 0;
inline constexpr std::size_t kSp = 248;
inline constexpr std::size_t kPc = 256;
inline constexpr std::size_t kPstate = 264;
inline constexpr std::size_t kSpEl1 = 272;
inline constexpr std::size_t kElrEl1 = 280;
inline constexpr std::size_t kSpsr = 288;
inline constexpr unsigned kNrSpsr = 5;  // KVM_NR_SPSR
inline constexpr std::size_t kFpRegs = 336;
inline constexpr std::size_t kVregs = kFpRegs;
inline constexpr std::size_t kFpsr = kFpRegs + 32 * 16;                // 848
inline constexpr std::size_t kFpcr = kFpsr + 4;                        // 852
inline constexpr std::size_t kSizeofKvmRegs = kFpRegs + 32 * 16 + 16;  // 864
}  // namespace layout

// --- generic pieces -----------------------------------------------------

// Bytes transferred by KVM_{GET,SET}_ONE_REG for `id` (KVM_REG_SIZE()).
constexpr std::size_t reg_size(std::uint64_t id) { return std::size_t{1} << ((id & kRegSizeMask) >> kRegSizeShift); }
constexpr std::uint64_t reg_size_field(std::uint64_t id) { return id & kRegSizeMask; }
constexpr std::uint64_t reg_coproc(std::uint64_t id) { return id & kRegArmCoprocMask; }

// The check kvm_arm_get_reg()/kvm_arm_set_reg() do first (arch/arm64/kvm/
// guest.c): everything but the size field must carry KVM_REG_ARM64 in bits
// 63..32, i.e. the arch byte is arm64 and bits 51..32 are zero.
constexpr bool is_arm64(std::uint64_t id) { return ((id & ~kRegSizeMask) >> 32) == (kRegArm64 >> 32); }

// --- core registers: KVM_REG_ARM_CORE_REG(name) = offsetof(kvm_regs, name)/4

constexpr std::uint64_t core_reg(std::uint64_t size_field, std::size_t byte_offset) {
  return kRegArm64 | size_field | kRegArmCore | (byte_offset / sizeof(std::uint32_t));
}
constexpr std::uint64_t core_x(unsigned n) { return core_reg(kRegSizeU64, layout::kRegs + 8 * std::size_t{n}); }
constexpr std::uint64_t core_sp() { return core_reg(kRegSizeU64, layout::kSp); }  // SP_EL0
constexpr std::uint64_t core_pc() { return core_reg(kRegSizeU64, layout::kPc); }
constexpr std::uint64_t core_pstate() { return core_reg(kRegSizeU64, layout::kPstate); }
constexpr std::uint64_t core_sp_el1() { return core_reg(kRegSizeU64, layout::kSpEl1); }
constexpr std::uint64_t core_elr_el1() { return core_reg(kRegSizeU64, layout::kElrEl1); }
// spsr[KVM_SPSR_EL1 = 0] is SPSR_EL1; 1..4 are the AArch32 banked SPSRs.
constexpr std::uint64_t core_spsr(unsigned i) { return core_reg(kRegSizeU64, layout::kSpsr + 8 * std::size_t{i}); }
// FPSIMD V-registers. KVM rejects these (EINVAL) on a vCPU with SVE; use
// sve_zreg() there (arch/arm64/kvm/guest.c core_reg_size_from_offset()).
constexpr std::uint64_t core_vreg(unsigned n) { return core_reg(kRegSizeU128, layout::kVregs + 16 * std::size_t{n}); }
constexpr std::uint64_t core_fpsr() { return core_reg(kRegSizeU32, layout::kFpsr); }
constexpr std::uint64_t core_fpcr() { return core_reg(kRegSizeU32, layout::kFpcr); }

constexpr bool is_core(std::uint64_t id) { return is_arm64(id) && reg_coproc(id) == kRegArmCore; }
// core_reg_offset_from_id(): the offset in u32 units.
constexpr std::uint64_t core_offset(std::uint64_t id) {
  return id & ~(kRegArchMask | kRegSizeMask | kRegArmCoprocMask);
}

// --- SVE registers ------------------------------------------------------

constexpr std::uint64_t sve_zreg(unsigned n, unsigned slice = 0) {
  return kRegArm64 | kRegArm64Sve | kSveZregBase | kRegSizeU2048 | ((std::uint64_t{n} & (kSveNumZregs - 1)) << 5) |
         (std::uint64_t{slice} & (kSveMaxSlices - 1));
}
constexpr std::uint64_t sve_preg(unsigned n, unsigned slice = 0) {
  return kRegArm64 | kRegArm64Sve | kSvePregBase | kRegSizeU256 | ((std::uint64_t{n} & (kSveNumPregs - 1)) << 5) |
         (std::uint64_t{slice} & (kSveMaxSlices - 1));
}
constexpr std::uint64_t sve_ffr(unsigned slice = 0) {
  return kRegArm64 | kRegArm64Sve | kSveFfrBase | kRegSizeU256 | (std::uint64_t{slice} & (kSveMaxSlices - 1));
}
// KVM_REG_ARM64_SVE_VLS: the __u64 vqs[8] vector-length bitmap.
constexpr std::uint64_t sve_vls() { return kRegArm64 | kRegArm64Sve | kRegSizeU512 | 0xffff; }

constexpr bool is_sve(std::uint64_t id) { return is_arm64(id) && reg_coproc(id) == kRegArm64Sve; }
// The ranges sve_reg_to_region() accepts (arch/arm64/kvm/guest.c): an ID with
// the wrong size field falls outside them, which KVM answers with EINVAL.
constexpr bool is_sve_zreg(std::uint64_t id) { return id >= sve_zreg(0, 0) && id <= sve_zreg(31, 31); }
constexpr bool is_sve_preg(std::uint64_t id) { return id >= sve_preg(0, 0) && id <= sve_preg(15, 31); }
constexpr bool is_sve_ffr(std::uint64_t id) { return id >= sve_ffr(0) && id <= sve_ffr(31); }
constexpr bool is_sve_vls(std::uint64_t id) { return id == sve_vls(); }
// Register number (Zn 0..31, Pn 0..15; 16 for FFR, which the kernel treats
// as the P register after p15) and slice of a Z/P/FFR ID.
constexpr unsigned sve_reg_num(std::uint64_t id) { return static_cast<unsigned>((id >> 5) & 0x1f); }
constexpr unsigned sve_slice(std::uint64_t id) { return static_cast<unsigned>(id & 0x1f); }

// --- system registers: ARM64_SYS_REG(op0, op1, crn, crm, op2) -------------

constexpr std::uint64_t sys_reg(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2) {
  return kRegArm64 | kRegArm64Sysreg | kRegSizeU64 | ((std::uint64_t{op0} << kSysregOp0Shift) & kSysregOp0Mask) |
         ((std::uint64_t{op1} << kSysregOp1Shift) & kSysregOp1Mask) |
         ((std::uint64_t{crn} << kSysregCrnShift) & kSysregCrnMask) |
         ((std::uint64_t{crm} << kSysregCrmShift) & kSysregCrmMask) |
         ((std::uint64_t{op2} << kSysregOp2Shift) & kSysregOp2Mask);
}
constexpr bool is_sysreg(std::uint64_t id) { return is_arm64(id) && reg_coproc(id) == kRegArm64Sysreg; }
constexpr unsigned sys_op0(std::uint64_t id) { return static_cast<unsigned>((id & kSysregOp0Mask) >> kSysregOp0Shift); }
constexpr unsigned sys_op1(std::uint64_t id) { return static_cast<unsigned>((id & kSysregOp1Mask) >> kSysregOp1Shift); }
constexpr unsigned sys_crn(std::uint64_t id) { return static_cast<unsigned>((id & kSysregCrnMask) >> kSysregCrnShift); }
constexpr unsigned sys_crm(std::uint64_t id) { return static_cast<unsigned>((id & kSysregCrmMask) >> kSysregCrmShift); }
constexpr unsigned sys_op2(std::uint64_t id) { return static_cast<unsigned>((id & kSysregOp2Mask) >> kSysregOp2Shift); }

// Encodings from the Arm ARM (DDI 0487, "System register index") and the
// kernel's arch/arm64/include/asm/sysreg.h (SYS_*_EL1 = sys_reg(op0, ...)).
constexpr std::uint64_t midr_el1() { return sys_reg(3, 0, 0, 0, 0); }
constexpr std::uint64_t mpidr_el1() { return sys_reg(3, 0, 0, 0, 5); }
constexpr std::uint64_t sctlr_el1() { return sys_reg(3, 0, 1, 0, 0); }
constexpr std::uint64_t mair_el1() { return sys_reg(3, 0, 10, 2, 0); }
constexpr std::uint64_t zcr_el1() { return sys_reg(3, 0, 1, 2, 0); }
constexpr std::uint64_t ttbr0_el1() { return sys_reg(3, 0, 2, 0, 0); }
constexpr std::uint64_t ttbr1_el1() { return sys_reg(3, 0, 2, 0, 1); }
constexpr std::uint64_t tcr_el1() { return sys_reg(3, 0, 2, 0, 2); }
// SPSR_EL1 / ELR_EL1 as system registers. KVM keeps no ONE_REG accessor for
// these encodings (its sys_reg_desc entries have neither .reg nor .get_user,
// so id_to_sys_reg_desc() answers ENOENT); userspace reads them through the
// core IDs core_spsr(0) and core_elr_el1(), which alias the same state.
constexpr std::uint64_t spsr_el1() { return sys_reg(3, 0, 4, 0, 0); }
constexpr std::uint64_t elr_el1() { return sys_reg(3, 0, 4, 0, 1); }
constexpr std::uint64_t esr_el1() { return sys_reg(3, 0, 5, 2, 0); }
constexpr std::uint64_t far_el1() { return sys_reg(3, 0, 6, 0, 0); }
constexpr std::uint64_t vbar_el1() { return sys_reg(3, 0, 12, 0, 0); }

// Short human name for error messages and logs: "x3", "sp", "pc", "pstate",
// "sp_el1", "elr_el1", "spsr[1]", "v5", "fp_regs.fpsr", "fp_regs.fpcr",
// "z5", "p2", "ffr", "z5 (slice 1)", "SVE_VLS", "ZCR_EL1", "S3_3_C14_C2_1"
// for unnamed system registers; anything else (including a known register
// with the wrong size field) is the ID in hex, "0x6020000000100000".
std::string reg_name(std::uint64_t id);

}  // namespace svedbg::kvm
