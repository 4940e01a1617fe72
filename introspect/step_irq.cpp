// step_irq.hpp: masking IRQ/FIQ around single-steps, through the register
// cache and guest memory.
#include "introspect/step_irq.hpp"

#include <array>

#include <fmt/format.h>

#include "common/le_bytes.hpp"
#include "introspect/page_walk.hpp"
#include "kvm/reg_id.hpp"

namespace svedbg::introspect {

namespace {

Result<std::uint64_t> cached_u64(StopCache& cache, unsigned vcpu, std::uint64_t id) {
  auto raw = cache.get(vcpu, id);
  if (!raw) return raw.error();
  if ((*raw)->size() < 8) return make_error(EINVAL, "register {:#x} is shorter than 8 bytes", id);
  return load_le<std::uint64_t>(std::span<const std::byte>(**raw), 0);
}

Status cached_set(StopCache& cache, unsigned vcpu, std::uint64_t id, std::uint64_t value) {
  std::array<std::byte, 8> buf{};
  store_le(std::span<std::byte>(buf), 0, value);
  return cache.set(vcpu, id, buf);
}

// The 32-bit instruction at virtual address `pc` of `vcpu`, translated as
// the vCPU's MMU would (identity while SCTLR_EL1.M is clear).
Result<std::uint32_t> read_insn(StopCache& cache, kvm::Backend& backend, unsigned vcpu, std::uint64_t pc) {
  auto regs = read_translation_regs(cache, vcpu);
  if (!regs) return regs.error();
  auto t = translate(*regs, pc, backend_phys_reader(backend));
  if (!t) return t.error();
  std::array<std::byte, 4> buf{};
  auto n = backend.read_phys(t->pa, buf);
  if (!n) return n.error();
  if (*n != buf.size()) return make_error(EFAULT, "instruction at {:#x} is past the end of guest RAM", pc);
  return load_le<std::uint32_t>(std::span<const std::byte>(buf), 0);
}

}  // namespace

void StepIrq::arm(StopCache& cache, kvm::Backend& backend, std::span<const unsigned> step) {
  armed_.clear();
  if (mode_ != Mode::Mask) return;
  for (unsigned vcpu : step) {
    const std::uint64_t ids[] = {kvm::core_pc(), kvm::core_pstate()};
    cache.prefetch(vcpu, ids);
    auto pc = cached_u64(cache, vcpu, kvm::core_pc());
    auto pstate = pc ? cached_u64(cache, vcpu, kvm::core_pstate()) : pc;
    if (!pc || !pstate) {
      ++errors_;
      continue;
    }
    if (!step_needs_mask(*pstate)) continue;  // the guest masked both itself
    auto insn = read_insn(cache, backend, vcpu, *pc);
    if (!insn) {
      ++unmasked_;  // not knowing the instruction, the mask could not be hidden from the guest
      continue;
    }
    if (!cached_set(cache, vcpu, kvm::core_pstate(), *pstate | kPstateIF)) {
      ++errors_;
      continue;
    }
    armed_.push_back({vcpu, StepBefore{*pc, *pstate, *insn}});
    ++masked_;
  }
}

void StepIrq::finish(StopCache& cache) {
  for (const auto& a : armed_) finish_one(cache, a);
  armed_.clear();
}

void StepIrq::finish_one(StopCache& cache, const Armed& a) {
  const DaifInsn d = decode_daif_insn(a.before.insn);
  std::vector<std::uint64_t> ids{kvm::core_pc(), kvm::core_pstate(), kvm::core_spsr(0), kvm::core_elr_el1(),
                                 kvm::vbar_el1()};
  const bool has_rt = (d.op == DaifOp::ReadReg || d.op == DaifOp::WriteReg) && d.rt != 31;
  if (has_rt) ids.push_back(kvm::core_x(d.rt));
  cache.prefetch(a.vcpu, ids);
  StepAfter after;
  std::uint64_t* const outs[] = {&after.pc, &after.spsr, &after.elr, &after.vbar};
  const std::uint64_t out_ids[] = {kvm::core_pc(), kvm::core_spsr(0), kvm::core_elr_el1(), kvm::vbar_el1()};
  auto pstate = cached_u64(cache, a.vcpu, kvm::core_pstate());
  if (!pstate) {
    ++errors_;  // nothing can be put right without PSTATE
    return;
  }
  after.pstate = *pstate;
  for (std::size_t i = 0; i < 4; ++i) {
    // Without one of these the step is taken as not executed: the guest's
    // own I/F are restored, which is right unless an exception was taken.
    auto v = cached_u64(cache, a.vcpu, out_ids[i]);
    if (v)
      *outs[i] = *v;
    else
      ++errors_;
  }
  if (has_rt) {
    auto xt = cached_u64(cache, a.vcpu, kvm::core_x(d.rt));
    if (xt) after.xt = *xt;
  }
  const StepFix fix = plan_step_fix(a.before, after);
  if (fix.kind == StepCase::Exception) ++exceptions_;
  if (fix.kind == StepCase::Eret) ++erets_;
  if (d.op != DaifOp::None && fix.kind == StepCase::Executed) ++daif_insns_;
  if (fix.pstate && !cached_set(cache, a.vcpu, kvm::core_pstate(), *fix.pstate)) ++errors_;
  if (fix.spsr && !cached_set(cache, a.vcpu, kvm::core_spsr(0), *fix.spsr)) ++errors_;
  if (fix.xt && !cached_set(cache, a.vcpu, kvm::core_x(d.rt), *fix.xt)) ++errors_;
}

std::string StepIrq::report() const {
  return fmt::format(
      "step-irq {}: {} steps with IRQ/FIQ masked ({} took an exception, {} returned from one, {} executed an "
      "instruction that reads or writes DAIF), {} stepped unmasked (instruction unreadable), {} register errors\n",
      mode_ == Mode::Mask ? "mask" : "off", masked_, exceptions_, erets_, daif_insns_, unmasked_, errors_);
}

void StepIrq::add_monitor_commands(MonitorRegistry& registry) {
  registry.add({"step-irq", "mask|off",
                "mask (default): a single-step runs with IRQ and FIQ masked (PSTATE.I/F), restored after it so "
                "that the guest never sees the mask, so a pending interrupt does not replace the stepped "
                "instruction; off: steps take pending interrupts as the CPU does (they land on the IRQ vector). "
                "Without an argument: the mode and what it did",
                false, [this](std::string_view args) -> Result<std::string> {
                  if (args.empty()) return report();
                  if (args == "mask")
                    mode_ = Mode::Mask;
                  else if (args == "off")
                    mode_ = Mode::Off;
                  else
                    return make_error(EINVAL, "usage: monitor step-irq mask|off");
                  return std::string(mode_ == Mode::Mask ? "step-irq mask: single-steps run with IRQ/FIQ masked\n"
                                                         : "step-irq off: single-steps take pending interrupts\n");
                }});
}

}  // namespace svedbg::introspect
