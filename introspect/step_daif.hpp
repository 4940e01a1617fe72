// introspect step_daif: the decisions behind "steps that step" (StepIrq,
// step_irq.hpp), as pure functions of register values.
//
// Contract: a single-step runs with PSTATE.I and PSTATE.F set (IRQ and FIQ
// masked) so that a pending interrupt is not taken instead of the stepped
// instruction; afterwards plan_step_fix() says which registers to write so
// that the guest sees exactly what it would have seen without the mask:
// PSTATE.{I,F}, SPSR_EL1.{I,F} of an exception taken during the step, and
// Xt of an `mrs Xt, daif`. decode_daif_insn() recognises the instructions
// that read or write those bits (Arm ARM DDI 0487, C6.2 "MSR (immediate)",
// "MSR (register)", "MRS", "ERET"; DAIF is the system register op0=3 op1=3
// CRn=4 CRm=2 op2=1, its I and F in bits 7 and 6, as in PSTATE/SPSR).
// Everything here only touches bits 7 and 6; the other PSTATE bits are the
// CPU's.
#pragma once

#include <cstdint>
#include <optional>

namespace svedbg::introspect {

inline constexpr std::uint64_t kPstateI = std::uint64_t{1} << 7;  // IRQ mask (PSTATE, SPSR, DAIF)
inline constexpr std::uint64_t kPstateF = std::uint64_t{1} << 6;  // FIQ mask
inline constexpr std::uint64_t kPstateIF = kPstateI | kPstateF;

// What an instruction does to DAIF.
enum class DaifOp {
  None,      // nothing (for I/F)
  Set,       // MSR DAIFSet, #imm: PSTATE.{D,A,I,F} |= imm
  Clear,     // MSR DAIFClr, #imm: PSTATE.{D,A,I,F} &= ~imm
  WriteReg,  // MSR DAIF, Xt: PSTATE.{D,A,I,F} = Xt[9:6]
  ReadReg,   // MRS Xt, DAIF: Xt = PSTATE.{D,A,I,F} in bits 9:6, zeros elsewhere
  Eret,      // ERET, ERETAA, ERETAB: PSTATE = SPSR_EL1
};

struct DaifInsn {
  DaifOp op = DaifOp::None;
  unsigned imm = 0;  // Set/Clear: CRm, bit 3 D, 2 A, 1 I, 0 F
  unsigned rt = 0;   // WriteReg/ReadReg: 0..30, 31 = XZR
  bool operator==(const DaifInsn&) const = default;
};

DaifInsn decode_daif_insn(std::uint32_t insn);

// The guest's PSTATE.{I,F} (bits 7:6, others zero) after `d` executed from
// a PSTATE whose I/F were `before_if`; `xt` is Xt's value for WriteReg.
// Eret is not covered (its PSTATE comes from SPSR_EL1): returns before_if.
std::uint64_t guest_if_after(const DaifInsn& d, std::uint64_t before_if, std::uint64_t xt);

// True when a step from `pstate` needs I/F masked (either one is clear).
inline bool step_needs_mask(std::uint64_t pstate) { return (pstate & kPstateIF) != kPstateIF; }

// The stepped vCPU before the step (pstate: the guest's own, unmasked) and
// after it (as the CPU left it).
struct StepBefore {
  std::uint64_t pc = 0;
  std::uint64_t pstate = 0;
  std::uint32_t insn = 0;  // the instruction at pc
};
struct StepAfter {
  std::uint64_t pc = 0;
  std::uint64_t pstate = 0;
  std::uint64_t spsr = 0;  // SPSR_EL1
  std::uint64_t elr = 0;   // ELR_EL1
  std::uint64_t vbar = 0;  // VBAR_EL1
  std::uint64_t xt = 0;    // X[rt] of the decoded instruction (0 for XZR)
};

// What happened in the step, as far as DAIF is concerned.
enum class StepCase {
  NotExecuted,  // pc unchanged: a debug stop before the instruction (or `b .`)
  Executed,     // the instruction ran; PSTATE.{I,F} get the guest's values
  Eret,         // an exception return: PSTATE came from SPSR_EL1, untouched
  Exception,    // an exception was taken to EL1: fix SPSR_EL1.{I,F}
};

struct StepFix {
  StepCase kind = StepCase::NotExecuted;
  std::optional<std::uint64_t> pstate;  // new PSTATE, when it must change
  std::optional<std::uint64_t> spsr;    // new SPSR_EL1
  std::optional<std::uint64_t> xt;      // new X[rt] (MRS DAIF)
};

// An exception taken to EL1 during the step: pc is one of the 16 vectors
// at VBAR_EL1 (D1.10.2, offsets 0x000..0x780 by 0x80), PSTATE is EL1h with
// I and F set (exception entry masks them), and ELR_EL1 is the stepped
// instruction (synchronous: the instruction did not complete) or the next
// one (SVC, or an interrupt the instruction itself unmasked). An interrupt
// taken right after an ERET has ELR_EL1 = the return address instead: the
// SPSR it saved is already the guest's.
bool exception_taken(const StepBefore& b, const StepAfter& a);

StepFix plan_step_fix(const StepBefore& b, const StepAfter& a);

}  // namespace svedbg::introspect
