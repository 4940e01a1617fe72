// Steps that step (issue 16): the DAIF decisions of introspect/step_daif
// per instruction encoding, the simulated timer interrupt, and GuestTarget
// stepping a guest whose interrupt is pending at every resume.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "introspect/step_daif.hpp"
#include "kvm/reg_id.hpp"
#include "tests/unit/monitor_run.hpp"

using namespace svedbg;
using namespace svedbg::introspect;

namespace {

// Instructions, encoded by hand from Arm ARM C6.2 (checked against GNU as:
// `msr daifset, #3` = d50343df, `mrs x0, daif` = d53b4220).
constexpr std::uint32_t kNop = 0xd503201f;
constexpr std::uint32_t msr_daifset(unsigned imm) { return 0xd50340df | imm << 8; }
constexpr std::uint32_t msr_daifclr(unsigned imm) { return 0xd50340ff | imm << 8; }
constexpr std::uint32_t msr_daif(unsigned rt) { return 0xd51b4220 | rt; }
constexpr std::uint32_t mrs_daif(unsigned rt) { return 0xd53b4220 | rt; }
constexpr std::uint32_t kEret = 0xd69f03e0;
constexpr std::uint32_t kSvc0 = 0xd4000001;

constexpr std::uint64_t kEl1h = 0x5, kEl0 = 0x0;

}  // namespace

TEST_CASE("decode_daif_insn: the instructions that read or write DAIF", "[step-irq]") {
  CHECK(decode_daif_insn(0xd50343df) == DaifInsn{DaifOp::Set, 3, 0});    // msr daifset, #3 (local_irq_disable)
  CHECK(decode_daif_insn(0xd50342ff) == DaifInsn{DaifOp::Clear, 2, 0});  // msr daifclr, #2
  CHECK(decode_daif_insn(msr_daifset(0xf)) == DaifInsn{DaifOp::Set, 0xf, 0});
  CHECK(decode_daif_insn(0xd51b4220) == DaifInsn{DaifOp::WriteReg, 0, 0});   // msr daif, x0
  CHECK(decode_daif_insn(0xd51b423f) == DaifInsn{DaifOp::WriteReg, 0, 31});  // msr daif, xzr
  CHECK(decode_daif_insn(0xd53b4233) == DaifInsn{DaifOp::ReadReg, 0, 19});   // mrs x19, daif
  CHECK(decode_daif_insn(kEret).op == DaifOp::Eret);
  CHECK(decode_daif_insn(0xd69f0bff).op == DaifOp::Eret);  // eretaa
  CHECK(decode_daif_insn(0xd69f0fff).op == DaifOp::Eret);  // eretab
  // Neighbours that are not DAIF: other PSTATE fields, other system registers.
  CHECK(decode_daif_insn(kNop).op == DaifOp::None);
  CHECK(decode_daif_insn(0xd50040bf).op == DaifOp::None);  // msr spsel, #0 (op1 000 op2 101)
  CHECK(decode_daif_insn(0xd500409f).op == DaifOp::None);  // msr pan... op1 000 op2 100 (UAO/PAN family)
  CHECK(decode_daif_insn(0xd53b4200).op == DaifOp::None);  // mrs x0, nzcv (CRm 2 op2 0)
  CHECK(decode_daif_insn(0xd5384100).op == DaifOp::None);  // mrs x0, sp_el0
  CHECK(decode_daif_insn(0xd5184000).op == DaifOp::None);  // msr spsr_el1, x0
  CHECK(decode_daif_insn(kSvc0).op == DaifOp::None);
  CHECK(decode_daif_insn(0xd4200000).op == DaifOp::None);  // brk #0
  CHECK(decode_daif_insn(0xd65f03c0).op == DaifOp::None);  // ret
}

TEST_CASE("guest_if_after: the guest's own I/F after each DAIF instruction", "[step-irq]") {
  CHECK(guest_if_after(decode_daif_insn(msr_daifset(2)), 0, 0) == kPstateI);
  CHECK(guest_if_after(decode_daif_insn(msr_daifset(1)), 0, 0) == kPstateF);
  CHECK(guest_if_after(decode_daif_insn(msr_daifset(0xc)), 0, 0) == 0);  // D and A only
  CHECK(guest_if_after(decode_daif_insn(msr_daifclr(2)), kPstateIF, 0) == kPstateF);
  CHECK(guest_if_after(decode_daif_insn(msr_daifclr(3)), kPstateIF, 0) == 0);
  CHECK(guest_if_after(decode_daif_insn(msr_daif(5)), 0, 0x3c0) == kPstateIF);
  CHECK(guest_if_after(decode_daif_insn(msr_daif(5)), kPstateIF, 0x200) == 0);
  CHECK(guest_if_after(decode_daif_insn(msr_daif(31)), kPstateIF, 0x3c0) == 0);  // xzr
  CHECK(guest_if_after(decode_daif_insn(mrs_daif(1)), kPstateI, 0) == kPstateI);
  CHECK(guest_if_after(decode_daif_insn(kNop), kPstateF, 0) == kPstateF);
}

TEST_CASE("plan_step_fix: what is written back after a masked step", "[step-irq]") {
  const std::uint64_t pc = 0x1000, vbar = 0x8000;
  const std::uint64_t masked = kEl1h | kPstateIF | 0x300;  // D, A, I, F set
  const auto before = [&](std::uint32_t insn, std::uint64_t pstate = kEl1h | 0x300) {
    return StepBefore{pc, pstate, insn};  // the guest had I and F clear, D and A set
  };
  SECTION("an ordinary instruction: PSTATE.I/F back to the guest's") {
    const auto fix = plan_step_fix(before(kNop), {pc + 4, masked, 0, 0, vbar, 0});
    CHECK(fix.kind == StepCase::Executed);
    CHECK(fix.pstate == (kEl1h | 0x300));
    CHECK_FALSE(fix.spsr);
    CHECK_FALSE(fix.xt);
  }
  SECTION("not executed (a debug stop before it): the guest's I/F back") {
    const auto fix = plan_step_fix(before(msr_daifclr(0xf)), {pc, masked, 0, 0, vbar, 0});
    CHECK(fix.kind == StepCase::NotExecuted);
    CHECK(fix.pstate == (kEl1h | 0x300));
  }
  SECTION("msr daifset #2: I stays set, F the guest's") {
    const auto fix = plan_step_fix(before(msr_daifset(2)), {pc + 4, masked, 0, 0, vbar, 0});
    CHECK(fix.pstate == (kEl1h | 0x300 | kPstateI));
  }
  SECTION("msr daifset #3: the CPU's PSTATE is already the guest's") {
    const auto fix = plan_step_fix(before(msr_daifset(3)), {pc + 4, masked, 0, 0, vbar, 0});
    CHECK_FALSE(fix.pstate);
  }
  SECTION("msr daifclr #1 from a guest with I set, F set: F cleared, I kept") {
    const auto fix =
        plan_step_fix(before(msr_daifclr(1), kEl1h | kPstateIF), {pc + 4, kEl1h | kPstateI, 0, 0, vbar, 0});
    CHECK_FALSE(fix.pstate);  // the CPU did what the guest asked
  }
  SECTION("msr daif, x3: whatever the guest wrote stays") {
    const auto fix = plan_step_fix(before(msr_daif(3)), {pc + 4, kEl1h | kPstateI, 0, 0, vbar, kPstateI});
    CHECK(fix.kind == StepCase::Executed);
    CHECK_FALSE(fix.pstate);
  }
  SECTION("mrs x1, daif: x1 gets the guest's I/F, PSTATE too") {
    const auto fix = plan_step_fix(before(mrs_daif(1)), {pc + 4, masked, 0, 0, vbar, 0x3c0});
    CHECK(fix.xt == 0x300);
    CHECK(fix.pstate == (kEl1h | 0x300));
  }
  SECTION("mrs xzr, daif writes nothing") {
    const auto fix = plan_step_fix(before(mrs_daif(31)), {pc + 4, masked, 0, 0, vbar, 0});
    CHECK_FALSE(fix.xt);
  }
  SECTION("eret: PSTATE came from SPSR_EL1, nothing is restored over it") {
    const auto fix = plan_step_fix(before(kEret), {0x4000, kEl0, 0, 0x4000, vbar, 0});
    CHECK(fix.kind == StepCase::Eret);
    CHECK_FALSE(fix.pstate);
    CHECK_FALSE(fix.spsr);
  }
  SECTION("eret then an interrupt at the return address: that SPSR is the guest's") {
    const auto fix = plan_step_fix(before(kEret), {vbar + 0x480, kEl1h | 0x3c0, kEl0, 0x4000, vbar, 0});
    CHECK(fix.kind == StepCase::Eret);
    CHECK_FALSE(fix.spsr);
  }
  SECTION("svc: the exception's SPSR_EL1 held the mask; PSTATE is the entry's") {
    const auto fix = plan_step_fix(before(kSvc0), {vbar + 0x200, kEl1h | 0x3c0, masked, pc + 4, vbar, 0});
    CHECK(fix.kind == StepCase::Exception);
    CHECK(fix.spsr == (kEl1h | 0x300));
    CHECK_FALSE(fix.pstate);
  }
  SECTION("a synchronous exception from EL0 (ELR = pc): SPSR_EL1 gets the guest's I/F") {
    const auto fix =
        plan_step_fix(before(0xf9400000, kEl0), {vbar + 0x400, kEl1h | 0x3c0, kEl0 | kPstateIF, pc, vbar, 0});
    CHECK(fix.kind == StepCase::Exception);
    CHECK(fix.spsr == kEl0);
  }
  SECTION("msr daifclr #2, then the pending IRQ: SPSR_EL1 shows I clear and the guest's F") {
    const auto fix = plan_step_fix(before(msr_daifclr(2), kEl1h | kPstateIF),
                                   {vbar + 0x280, kEl1h | 0x3c0, kEl1h | kPstateF, pc + 4, vbar, 0});
    CHECK(fix.kind == StepCase::Exception);
    CHECK_FALSE(fix.spsr);  // the CPU saved exactly the guest's view
    const auto fix2 =
        plan_step_fix(before(msr_daifclr(3), kEl1h | kPstateF), {vbar + 0x280, kEl1h | 0x3c0, kEl1h, pc + 4, vbar, 0});
    CHECK_FALSE(fix2.spsr);
  }
  SECTION("a branch to a vector address is not an exception") {
    const auto fix = plan_step_fix(before(0x14000000 | 0x1c00), {vbar + 0x200, masked, 0, 0, vbar, 0});
    CHECK(fix.kind == StepCase::Executed);
    CHECK(fix.pstate == (kEl1h | 0x300));
  }
}

namespace {

constexpr std::uint64_t kRam = 0x40000000, kVbar = 0x40002000;

std::uint64_t get_u64(SimBackend& b, unsigned vcpu, std::uint64_t id) {
  std::array<std::byte, 8> buf{};
  REQUIRE(b.get_one_reg(vcpu, id, buf));
  std::uint64_t v = 0;
  std::memcpy(&v, buf.data(), 8);
  return v;
}
void set_u64(SimBackend& b, unsigned vcpu, std::uint64_t id, std::uint64_t value) {
  std::array<std::byte, 8> buf{};
  std::memcpy(buf.data(), &value, 8);
  REQUIRE(b.set_one_reg(vcpu, id, buf));
}
void put_insn(SimBackend& b, std::uint64_t gpa, std::uint32_t insn) {
  std::array<std::byte, 4> buf{};
  std::memcpy(buf.data(), &insn, 4);
  REQUIRE(b.write_phys(gpa, buf).value() == 4);
}

// vCPU 0 of a one-vCPU sim: a program at kRam, an `eret` at every vector
// of VBAR_EL1 = kVbar, PSTATE EL1h with I and F clear.
std::unique_ptr<SimBackend> program(const std::vector<std::uint32_t>& insns, unsigned irq_period) {
  SimConfig cfg;
  cfg.vcpus = 1;
  cfg.irq_period = irq_period;
  auto sim = std::make_unique<SimBackend>(cfg);
  for (std::size_t i = 0; i < insns.size(); ++i) put_insn(*sim, kRam + 4 * i, insns[i]);
  for (std::uint64_t off = 0; off < 0x800; off += 0x80) put_insn(*sim, kVbar + off, kEret);
  set_u64(*sim, 0, kvm::vbar_el1(), kVbar);
  set_u64(*sim, 0, kvm::core_pstate(), kEl1h | 0x300);
  return sim;
}

void step(kvm::Backend& b) {
  const unsigned v = 0;
  REQUIRE(b.run_control()->resume(std::span(&v, 1), false));
  auto s = b.run_control()->poll_stop();
  REQUIRE(s);
  CHECK(s->reason == kvm::StopReason::Stepped);
}

void step(GuestTarget& t) {
  const gdbstub::ResumeAction a{gdbstub::ResumeKind::Step, gdbstub::ThreadId{1}};
  REQUIRE(t.resume(std::span(&a, 1)));
  auto s = t.poll_stop();
  REQUIRE(s);
}

std::unique_ptr<GuestTarget> target(SimBackend& sim) {
  auto t = GuestTarget::create(sim, {});
  REQUIRE(t);
  REQUIRE(t.value()->attach());
  return std::move(t).value();
}

}  // namespace

TEST_CASE("sim irq: a pending timer IRQ is taken to the vector of the current state", "[step-irq][sim]") {
  auto sim = program({kNop, kNop, kNop, kNop}, 3);
  SECTION("from EL1h with I clear: VBAR_EL1 + 0x280, ELR = the next instruction, SPSR = PSTATE") {
    set_u64(*sim, 0, kvm::esr_el1(), 0x1234);
    step(*sim);  // pending since the resume
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kVbar + 0x280);
    CHECK(get_u64(*sim, 0, kvm::core_elr_el1()) == kRam);
    CHECK(get_u64(*sim, 0, kvm::core_spsr(0)) == (kEl1h | 0x300));
    CHECK(get_u64(*sim, 0, kvm::core_pstate()) == 0x3c5);
    CHECK(get_u64(*sim, 0, kvm::esr_el1()) == 0x1234);  // not written for interrupts
    step(*sim);                                         // eret
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam);
    CHECK(get_u64(*sim, 0, kvm::core_pstate()) == (kEl1h | 0x300));
  }
  SECTION("from EL0: + 0x480; from EL1t: + 0x080") {
    set_u64(*sim, 0, kvm::core_pstate(), kEl0);
    step(*sim);
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kVbar + 0x480);
    set_u64(*sim, 0, kvm::core_pstate(), 0x4);
    step(*sim);
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kVbar + 0x080);
  }
  SECTION("PSTATE.I set: not taken; the instruction executes") {
    set_u64(*sim, 0, kvm::core_pstate(), kEl1h | kPstateI);
    step(*sim);
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 4);
  }
  SECTION("sim irq off: nothing pending") {
    REQUIRE(test::run_monitor(*sim, "sim irq off").value());
    step(*sim);
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 4);
    CHECK(test::run_monitor(*sim, "sim irq").value().value() == "sim irq off: no timer interrupt\n");
    CHECK_FALSE(test::run_monitor(*sim, "sim irq every 0").value());
    CHECK_FALSE(test::run_monitor(*sim, "sim irq sometimes").value());
  }
}

TEST_CASE("step-irq: with an IRQ pending at every resume, N steps execute N instructions", "[step-irq]") {
  auto sim = program(std::vector<std::uint32_t>(16, kNop), 2);
  auto t = target(*sim);
  for (unsigned i = 1; i <= 10; ++i) {
    step(*t);
    CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 4 * i);
    CHECK(get_u64(*sim, 0, kvm::core_pstate()) == (kEl1h | 0x300));  // the guest's own I/F after each step
  }
  CHECK(t->monitor("step-irq").value().rfind("step-irq mask: 10 steps with IRQ/FIQ masked", 0) == 0);
  // step-irq off: the old behaviour, the step lands on the IRQ vector.
  CHECK(t->monitor("step-irq off").value() == "step-irq off: single-steps take pending interrupts\n");
  step(*t);
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kVbar + 0x280);
  CHECK_FALSE(t->monitor("step-irq sometimes"));
}

TEST_CASE("step-irq: the guest never observes the mask (DAIF instructions, SVC, ERET)", "[step-irq]") {
  // x3 = 3 in the fixture: `msr daif, x3` clears D, A, I and F.
  const std::vector<std::uint32_t> prog = {msr_daifclr(3), mrs_daif(1), kSvc0,       msr_daifset(2), mrs_daif(2),
                                           msr_daifclr(1), msr_daif(3), mrs_daif(4), kNop,           kNop};
  // The reference: the same program stepped with no interrupt at all.
  auto ref = program(prog, 0);
  auto sim = program(prog, 1);
  set_u64(*ref, 0, kvm::core_pstate(), kEl1h | 0x3c0);
  set_u64(*sim, 0, kvm::core_pstate(), kEl1h | 0x3c0);
  auto t_ref = target(*ref);
  auto t = target(*sim);
  const std::uint64_t ids[] = {kvm::core_pc(), kvm::core_pstate(), kvm::core_spsr(0), kvm::core_elr_el1(),
                               kvm::core_x(1), kvm::core_x(2),     kvm::core_x(4)};
  for (unsigned i = 0; i < 11; ++i) {  // the SVC's eret makes it 11
    step(*t_ref);
    step(*t);
    for (auto id : ids) {
      INFO("step " << i + 1 << ": " << kvm::reg_name(id));
      CHECK(get_u64(*sim, 0, id) == get_u64(*ref, 0, id));
    }
  }
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 4 * 10);
  CHECK(get_u64(*sim, 0, kvm::core_x(1)) == 0x300);  // D, A as the guest left them; I, F clear
  CHECK(get_u64(*sim, 0, kvm::core_x(2)) == 0x380);
  const auto report = t->monitor("step-irq").value();
  CHECK(
      report.find("(1 took an exception, 0 returned from one, 6 executed an instruction that reads or writes DAIF)") !=
      std::string::npos);
  // With the mask off, the first step with I clear lands on the vector.
  auto off = program(prog, 1);
  auto t_off = target(*off);
  REQUIRE(t_off->monitor("step-irq off"));
  step(*t_off);
  CHECK(get_u64(*off, 0, kvm::core_pc()) == kVbar + 0x280);
}

TEST_CASE("sim irq count N: pending every N instructions only, not at resume", "[step-irq][sim]") {
  auto sim = program(std::vector<std::uint32_t>(8, kNop), 0);
  CHECK(test::run_monitor(*sim, "sim irq count 3").value().value() ==
        "sim irq count 3: a timer IRQ is pending every 3 instructions\n");
  step(*sim);
  step(*sim);
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 8);  // nothing pending at the resumes
  step(*sim);                                           // the third instruction makes it pending
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 12);
  step(*sim);
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kVbar + 0x280);
  CHECK(test::run_monitor(*sim, "sim irq every 5").value().value() ==
        "sim irq every 5: a timer IRQ is pending every 5 instructions and at each resume\n");
}

TEST_CASE("sim: STR Xt, [Xn, #imm] stores; a hardware watchpoint stops before it", "[sim]") {
  auto sim = program({0xf9000420, kNop}, 0);  // str x0, [x1, #8]
  set_u64(*sim, 0, kvm::core_x(0), 0x1122334455667788);
  set_u64(*sim, 0, kvm::core_x(1), kRam + 0x3000);
  kvm::GuestDebug dbg;
  dbg.control = kvm::GuestDebug::kEnable | kvm::GuestDebug::kUseHw;
  dbg.wcr[0] = 0x1 | (0x3u << 1) | (0x2u << 3) | (0x0fu << 5);  // E, EL0+EL1, stores, bytes 0..3
  dbg.wvr[0] = kRam + 0x3008;
  REQUIRE(sim->set_guest_debug(0, dbg));
  const unsigned v = 0;
  REQUIRE(sim->resume(std::span(&v, 1), false));
  auto s = sim->poll_stop();
  REQUIRE(s);
  CHECK(s->reason == kvm::StopReason::Watchpoint);
  CHECK(s->far == kRam + 0x3008);
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam);  // not executed
  REQUIRE(sim->set_guest_debug(0, kvm::GuestDebug{}));
  step(*sim);
  CHECK(get_u64(*sim, 0, kvm::core_pc()) == kRam + 4);
  std::array<std::byte, 8> buf{};
  REQUIRE(sim->read_phys(kRam + 0x3008, buf).value() == 8);
  std::uint64_t stored = 0;
  std::memcpy(&stored, buf.data(), 8);
  CHECK(stored == 0x1122334455667788);
}
