// introspect::core_layout: the byte layout of arm64 Linux ELF core notes.
//
// Contract: constants and offset functions that reproduce, for an arm64
// little-endian target, the kernel UAPI definitions an ELF core uses:
// struct elf_prstatus (glibc <sys/procfs.h>, NT_PRSTATUS, pr_reg =
// struct user_pt_regs), struct user_fpsimd_state (NT_FPREGSET), struct
// user_sve_header and the SVE_PT_SVE_* payload offsets (NT_ARM_SVE;
// arch/arm64/include/uapi/asm/ptrace.h and sve_context.h), plus the note
// svedbg adds ("SVEDBG", kSvedbgVcpuNote) with what a process core cannot
// carry: a vCPU's VLS, effective VL and EL1 system registers. The header has
// no dependency on arm64 headers (it builds on any host);
// introspect/core/core_layout_check.cpp static_asserts every value against the
// real headers when compiled for aarch64 (tests/core/check-core-layout).
// Offsets are in bytes; vq is the vector length in 128-bit quadwords.
#pragma once

#include <cstddef>
#include <cstdint>

namespace svedbg::introspect::core_layout {

// <elf.h> note types and names.
inline constexpr std::uint32_t kNtPrstatus = 1;    // NT_PRSTATUS, name "CORE"
inline constexpr std::uint32_t kNtFpregset = 2;    // NT_FPREGSET, name "CORE"
inline constexpr std::uint32_t kNtArmSve = 0x405;  // NT_ARM_SVE, name "LINUX"
inline constexpr const char* kCoreName = "CORE";
inline constexpr const char* kLinuxName = "LINUX";

// struct elf_prstatus for aarch64 (392 bytes).
inline constexpr std::size_t kPrstatusSize = 392;
inline constexpr std::size_t kPrCursig = 12;    // short
inline constexpr std::size_t kPrPid = 32;       // pid_t
inline constexpr std::size_t kPrReg = 112;      // elf_gregset_t = struct user_pt_regs
inline constexpr std::size_t kPrFpvalid = 384;  // int
// struct user_pt_regs: regs[31], sp, pc, pstate (u64 each).
inline constexpr std::size_t kUserPtRegsSize = 272;
inline constexpr std::size_t kPtSp = 31 * 8;
inline constexpr std::size_t kPtPc = 32 * 8;
inline constexpr std::size_t kPtPstate = 33 * 8;

// struct user_fpsimd_state: __uint128_t vregs[32]; u32 fpsr, fpcr, __reserved[2].
inline constexpr std::size_t kFpsimdSize = 528;
inline constexpr std::size_t kFpsimdFpsr = 512;
inline constexpr std::size_t kFpsimdFpcr = 516;

// struct user_sve_header { u32 size, max_size; u16 vl, max_vl, flags, __reserved; }.
inline constexpr std::size_t kSveHeaderSize = 16;
inline constexpr std::size_t kSveHdrSize = 0;
inline constexpr std::size_t kSveHdrMaxSize = 4;
inline constexpr std::size_t kSveHdrVl = 8;
inline constexpr std::size_t kSveHdrMaxVl = 10;
inline constexpr std::size_t kSveHdrFlags = 12;
inline constexpr std::uint16_t kSvePtRegsMask = 1;    // SVE_PT_REGS_MASK
inline constexpr std::uint16_t kSvePtRegsFpsimd = 0;  // SVE_PT_REGS_FPSIMD
inline constexpr std::uint16_t kSvePtRegsSve = 1;     // SVE_PT_REGS_SVE
inline constexpr unsigned kSveVqBytes = 16;           // __SVE_VQ_BYTES

constexpr std::size_t align16(std::size_t n) { return (n + kSveVqBytes - 1) / kSveVqBytes * kSveVqBytes; }
// SVE_PT_REGS_OFFSET (= SVE_PT_FPSIMD_OFFSET = SVE_PT_SVE_OFFSET).
inline constexpr std::size_t kSvePtRegsOffset = align16(kSveHeaderSize);
constexpr std::size_t sve_zreg_size(unsigned vq) { return std::size_t{vq} * kSveVqBytes; }
constexpr std::size_t sve_preg_size(unsigned vq) { return std::size_t{vq} * (kSveVqBytes / 8); }
constexpr std::size_t sve_zreg_offset(unsigned vq, unsigned n) { return kSvePtRegsOffset + sve_zreg_size(vq) * n; }
constexpr std::size_t sve_preg_offset(unsigned vq, unsigned n) {
  return sve_zreg_offset(vq, 32) + sve_preg_size(vq) * n;
}
constexpr std::size_t sve_ffr_offset(unsigned vq) { return sve_preg_offset(vq, 16); }
constexpr std::size_t sve_fpsr_offset(unsigned vq) { return align16(sve_ffr_offset(vq) + sve_preg_size(vq)); }
constexpr std::size_t sve_fpcr_offset(unsigned vq) { return sve_fpsr_offset(vq) + 4; }
// SVE_PT_SIZE(vq, SVE_PT_REGS_SVE) and SVE_PT_SIZE(vq, SVE_PT_REGS_FPSIMD).
constexpr std::size_t sve_pt_size_sve(unsigned vq) {
  return kSvePtRegsOffset + align16(sve_fpcr_offset(vq) + 4 - kSvePtRegsOffset);
}
inline constexpr std::size_t kSvePtSizeFpsimd = kSvePtRegsOffset + kFpsimdSize;

// The "SVEDBG" note of type kSvedbgVcpuNote, one per vCPU, after the vCPU's
// NT_PRSTATUS (all fields little-endian):
//   u32 version (1), u32 vcpu index (the VMM's: with --vcpus not the
//   thread's position, which pr_pid - 1 is), u32 flags (bit 0: SVE),
//   u32 effective vq, u64 vls[8] (KVM_REG_ARM64_SVE_VLS), u32 note_vq (the
//   vq the NT_ARM_SVE payload is laid out at; 0 without one), u32 count,
//   then count pairs {u64 KVM register ID, u64 value}: 64-bit registers a
//   process core has no place for (EL1 system registers, ZCR_EL1), and
//   SP_EL0 under KVM's regs.sp ID (NT_PRSTATUS's sp is SP_EL1 at EL1h).
inline constexpr const char* kSvedbgName = "SVEDBG";
inline constexpr std::uint32_t kSvedbgVcpuNote = 1;
inline constexpr std::uint32_t kSvedbgNoteVersion = 1;
inline constexpr std::uint32_t kSvedbgFlagSve = 1;
inline constexpr std::size_t kSvedbgFixedSize = 4 * 4 + 8 * 8 + 4 + 4;  // 88
inline constexpr std::size_t kSvedbgPairSize = 16;

}  // namespace svedbg::introspect::core_layout
