// The simulated guest's interrupt model (see sim_backend.hpp): a timer
// whose IRQ becomes pending every N instructions a vCPU executes and
// whenever the guest resumes after a stop, taken to the IRQ vector while
// PSTATE.I is clear; and the system instructions a guest's interrupt code
// uses: MSR DAIFSet/DAIFClr, MSR/MRS DAIF, SVC, ERET.
//
// Why "whenever the guest resumes": on KVM the guest's timer (CNTV) keeps
// counting while the debugger holds the vCPU, and a Linux guest's timer
// period (4 ms at HZ=250) is far shorter than any stop, so the interrupt is
// pending at every resume. That is what makes a single-step land on the IRQ
// vector (issue 16), and the sim reproduces it.
#include <fmt/format.h>

#include "introspect/sim/sim_backend.hpp"
#include "introspect/sim/sim_bytes.hpp"

namespace svedbg::introspect {

using namespace sim_detail;

namespace {
constexpr std::uint64_t kPstateI = 1u << 7;
constexpr std::uint64_t kDaifBits = 0x3c0;  // PSTATE.{D,A,I,F}, bits 9:6 (also DAIF's layout)
constexpr unsigned kEcSvc64 = 0x15;

std::uint64_t vbar_of(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& regs) {
  for (const auto& [k, v] : regs)
    if (k == kvm::vbar_el1()) return v;
  return 0;
}
}  // namespace

std::uint64_t SimBackend::vector_base(std::uint64_t pstate) {
  // PSTATE.M[3:0]: 0b0000 EL0t -> "Lower EL using AArch64" (0x400);
  // 0b0100 EL1t -> "Current EL with SP_EL0" (0x000); 0b0101 EL1h ->
  // "Current EL with SP_ELx" (0x200). Each group: sync +0, IRQ +0x80,
  // FIQ +0x100, SError +0x180.
  switch (pstate & 0xf) {
    case 0x0: return 0x400;
    case 0x4: return 0x000;
    default: return 0x200;
  }
}

bool SimBackend::take_pending_irq_locked(unsigned vcpu) {
  Vcpu& v = vcpus_[vcpu];
  if (!v.irq_pending) return false;
  const std::uint64_t pstate = load_core_u64(v.core, layout::kPstate);
  if (pstate & kPstateI) return false;
  // An IRQ taken to EL1 (Arm ARM D1.10): ELR_EL1 = the instruction that
  // would have executed next, SPSR_EL1 = PSTATE, PSTATE = EL1h with DAIF
  // masked; ESR_EL1 is not written for interrupts.
  v.irq_pending = false;
  const std::uint64_t pc = load_core_u64(v.core, layout::kPc);
  store_core_u64(v.core, layout::kElrEl1, pc);
  store_core_u64(v.core, layout::kSpsr, pstate);
  store_core_u64(v.core, layout::kPstate, kPstateReset);
  store_core_u64(v.core, layout::kPc, vbar_of(v.sysregs) + vector_base(pstate) + 0x80);
  return true;
}

void SimBackend::irq_tick_locked(unsigned vcpu) {
  Vcpu& v = vcpus_[vcpu];
  ++v.irq_count;
  if (irq_period_ && v.irq_count % irq_period_ == 0) v.irq_pending = true;
}

void SimBackend::irq_on_resume_locked() {
  if (!irq_period_ || !irq_at_resume_) return;
  for (auto& v : vcpus_) v.irq_pending = true;
}

bool SimBackend::execute_system_locked(unsigned vcpu, std::uint32_t insn, std::uint64_t pc) {
  // Encodings: Arm ARM C6.2 (see introspect/step_daif.cpp, which decodes
  // the same ones on the debugger's side).
  Vcpu& v = vcpus_[vcpu];
  const std::uint64_t pstate = load_core_u64(v.core, layout::kPstate);
  const unsigned rt = insn & 0x1f;
  const auto x = [&](unsigned n) { return n == 31 ? 0 : load_core_u64(v.core, layout::kRegs + 8 * n); };
  if ((insn & 0xfffff0df) == 0xd50340df) {  // MSR DAIFSet / DAIFClr, #imm (op2 110 / 111)
    const std::uint64_t bits = std::uint64_t{(insn >> 8) & 0xf} << 6;
    const bool clear = insn & 0x20;
    store_core_u64(v.core, layout::kPstate, clear ? pstate & ~bits : pstate | bits);
  } else if ((insn & 0xffffffe0) == 0xd51b4220) {  // MSR DAIF, Xt
    store_core_u64(v.core, layout::kPstate, (pstate & ~kDaifBits) | (x(rt) & kDaifBits));
  } else if ((insn & 0xffffffe0) == 0xd53b4220) {  // MRS Xt, DAIF
    if (rt != 31) store_core_u64(v.core, layout::kRegs + 8 * rt, pstate & kDaifBits);
  } else if (insn == 0xd69f03e0) {  // ERET: PSTATE = SPSR_EL1, pc = ELR_EL1
    store_core_u64(v.core, layout::kPstate, load_core_u64(v.core, layout::kSpsr));
    store_core_u64(v.core, layout::kPc, load_core_u64(v.core, layout::kElrEl1));
    return true;
  } else if ((insn & 0xffe0001f) == 0xd4000001) {  // SVC #imm16: ELR_EL1 = the next instruction
    store_core_u64(v.core, layout::kPc, pc + 4);
    take_exception_locked(vcpu, (std::uint64_t{kEcSvc64} << 26) | (1u << 25) | ((insn >> 5) & 0xffff));
    return true;
  } else {
    return false;
  }
  store_core_u64(v.core, layout::kPc, pc + 4);
  return true;
}

void SimBackend::add_irq_monitor_command(MonitorRegistry& registry) {
  registry.add({"sim irq", "every N|count N|off",
                "a simulated timer interrupt: pending on every vCPU each N instructions it executes and whenever "
                "the guest resumes (a stop outlasts a real timer's period), taken while PSTATE.I is clear to "
                "VBAR_EL1 + 0x80/0x280/0x480 (from EL1t/EL1h/EL0); count N: only every N instructions; off "
                "(the default): none. Without an argument: the setting",
                true, [this](std::string_view args) -> Result<std::string> {
                  const auto words = split_words(args);
                  std::lock_guard lock(mu_);
                  if (words.size() == 2 && (words[0] == "every" || words[0] == "count")) {
                    const auto n = parse_unsigned(words[1]);
                    if (!n || *n == 0)
                      return make_error(EINVAL, "sim irq {} N: N must be >= 1, got '{}'", words[0], words[1]);
                    irq_period_ = *n;
                    irq_at_resume_ = words[0] == "every";
                  } else if (words.size() == 1 && words[0] == "off") {
                    irq_period_ = 0;
                    for (auto& v : vcpus_) v.irq_pending = false;
                  } else if (!words.empty()) {
                    return make_error(EINVAL, "usage: monitor sim irq every N|count N|off");
                  }
                  if (!irq_period_) return std::string("sim irq off: no timer interrupt\n");
                  return fmt::format("sim irq {} {}: a timer IRQ is pending every {} instructions{}\n",
                                     irq_at_resume_ ? "every" : "count", irq_period_, irq_period_,
                                     irq_at_resume_ ? " and at each resume" : "");
                }});
}

}  // namespace svedbg::introspect
