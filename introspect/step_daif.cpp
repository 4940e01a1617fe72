// step_daif.hpp: decoding the instructions that touch DAIF, and the fix-up
// after a masked step.
#include "introspect/step_daif.hpp"

namespace svedbg::introspect {

namespace {
// MSR (immediate), C6.2: 1101 0101 0000 0 op1 0100 CRm op2 11111. DAIFSet
// is op1=011 op2=110, DAIFClr op1=011 op2=111; CRm is the immediate.
constexpr std::uint32_t kMsrImmMask = 0xfffff0ff;
constexpr std::uint32_t kMsrDaifSet = 0xd50340df;
constexpr std::uint32_t kMsrDaifClr = 0xd50340ff;
// MSR (register) 1101 0101 0001 o0 op1 CRn CRm op2 Rt and MRS 1101 0101
// 0011 ..., with o0 = op0 - 2: DAIF (3, 3, 4, 2, 1) gives these with Rt = 0.
constexpr std::uint32_t kRtMask = 0xffffffe0;
constexpr std::uint32_t kMsrDaifReg = 0xd51b4220;
constexpr std::uint32_t kMrsDaifReg = 0xd53b4220;
// ERET, and with FEAT_PAuth ERETAA / ERETAB (C6.2 "ERETAA, ERETAB").
constexpr std::uint32_t kEret = 0xd69f03e0, kEretaa = 0xd69f0bff, kEretab = 0xd69f0fff;
// DAIFSet/DAIFClr immediate bits 1 (I) and 0 (F) -> PSTATE bits 7 and 6.
constexpr std::uint64_t imm_if(unsigned imm) { return std::uint64_t{imm & 0x3u} << 6; }
}  // namespace

DaifInsn decode_daif_insn(std::uint32_t insn) {
  if ((insn & kMsrImmMask) == kMsrDaifSet) return {DaifOp::Set, (insn >> 8) & 0xf, 0};
  if ((insn & kMsrImmMask) == kMsrDaifClr) return {DaifOp::Clear, (insn >> 8) & 0xf, 0};
  if ((insn & kRtMask) == kMsrDaifReg) return {DaifOp::WriteReg, 0, insn & 0x1f};
  if ((insn & kRtMask) == kMrsDaifReg) return {DaifOp::ReadReg, 0, insn & 0x1f};
  if (insn == kEret || insn == kEretaa || insn == kEretab) return {DaifOp::Eret, 0, 0};
  return {};
}

std::uint64_t guest_if_after(const DaifInsn& d, std::uint64_t before_if, std::uint64_t xt) {
  before_if &= kPstateIF;
  switch (d.op) {
    case DaifOp::Set: return before_if | imm_if(d.imm);
    case DaifOp::Clear: return before_if & ~imm_if(d.imm);
    case DaifOp::WriteReg: return d.rt == 31 ? 0 : xt & kPstateIF;
    default: return before_if;
  }
}

bool exception_taken(const StepBefore& b, const StepAfter& a) {
  constexpr std::uint64_t kModeMask = 0x1f, kEl1h = 0x5;  // PSTATE.{nRW,M}: AArch64 EL1 with SP_EL1
  if (a.pc < a.vbar) return false;
  const std::uint64_t offset = a.pc - a.vbar;
  if (offset >= 0x800 || offset % 0x80 != 0) return false;
  if ((a.pstate & kModeMask) != kEl1h || (a.pstate & kPstateIF) != kPstateIF) return false;
  return a.elr == b.pc || a.elr == b.pc + 4;
}

StepFix plan_step_fix(const StepBefore& b, const StepAfter& a) {
  const DaifInsn d = decode_daif_insn(b.insn);
  const std::uint64_t orig = b.pstate & kPstateIF;
  const auto with_if = [](std::uint64_t reg, std::uint64_t bits) { return (reg & ~kPstateIF) | (bits & kPstateIF); };
  StepFix fix;
  if (d.op == DaifOp::Eret && a.pc != b.pc) {
    fix.kind = StepCase::Eret;  // PSTATE = the SPSR the guest wrote: the mask is gone with the old PSTATE
    return fix;
  }
  if (exception_taken(b, a)) {
    // PSTATE is the exception entry's (I, F set, as the guest would see
    // it); SPSR_EL1 saved the masked PSTATE. Synchronous (ELR = pc): the
    // instruction did not complete. Otherwise it did, then the exception.
    fix.kind = StepCase::Exception;
    const std::uint64_t want = a.elr == b.pc ? orig : guest_if_after(d, orig, a.xt);
    if ((a.spsr & kPstateIF) != want) fix.spsr = with_if(a.spsr, want);
    return fix;
  }
  std::uint64_t want = orig;
  if (a.pc == b.pc) {
    fix.kind = StepCase::NotExecuted;
  } else {
    fix.kind = StepCase::Executed;
    want = guest_if_after(d, orig, a.xt);
    // MRS Xt, DAIF read the masked I/F: give Xt the guest's.
    if (d.op == DaifOp::ReadReg && d.rt != 31 && (a.xt & kPstateIF) != orig) fix.xt = with_if(a.xt, orig);
  }
  if ((a.pstate & kPstateIF) != want) fix.pstate = with_if(a.pstate, want);
  return fix;
}

}  // namespace svedbg::introspect
