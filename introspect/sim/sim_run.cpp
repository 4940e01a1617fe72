// The simulated guest's run control (see sim_backend.hpp): its tiny
// instruction set, exceptions taken to EL1, single-step and breakpoints as
// KVM reports them (debug exits), the run thread, stop, detach and kill.
#include "introspect/sim/sim_backend.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "introspect/sim/sim_bytes.hpp"

namespace svedbg::introspect {

using namespace sim_detail;

namespace {
// ESR_ELx fields (Arm ARM D17.2.37): EC in bits 31:26, IL (bit 25) set for
// 32-bit instructions.
constexpr std::uint64_t esr(unsigned ec, std::uint32_t iss = 0) {
  return (std::uint64_t{ec} << 26) | (std::uint64_t{1} << 25) | iss;
}
constexpr unsigned kEcUnknown = 0x00, kEcInsnAbortSameEl = 0x21, kEcHwBreakLower = 0x30, kEcStepLower = 0x32,
                   kEcBrk64 = 0x3c;
std::uint64_t sysreg_of(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& regs, std::uint64_t id) {
  for (const auto& [k, v] : regs)
    if (k == id) return v;
  return 0;
}
void set_sysreg(std::vector<std::pair<std::uint64_t, std::uint64_t>>& regs, std::uint64_t id, std::uint64_t value) {
  for (auto& [k, v] : regs)
    if (k == id) v = value;
}
}  // namespace

void SimBackend::take_exception_locked(unsigned vcpu, std::uint64_t syndrome) {
  // A synchronous exception taken to EL1 (Arm ARM D1.10): ELR_EL1 = the
  // faulting pc, SPSR_EL1 = PSTATE, ESR_EL1 = the syndrome, PSTATE = EL1h
  // with DAIF masked, pc = VBAR_EL1 + 0x200 from EL1h (vector_base).
  Vcpu& v = vcpus_[vcpu];
  store_core_u64(v.core, layout::kElrEl1, load_core_u64(v.core, layout::kPc));
  store_core_u64(v.core, layout::kSpsr, load_core_u64(v.core, layout::kPstate));
  store_core_u64(v.core, layout::kPstate, kPstateReset);
  set_sysreg(v.sysregs, kvm::esr_el1(), syndrome);
  store_core_u64(v.core, layout::kPc,
                 sysreg_of(v.sysregs, kvm::vbar_el1()) + vector_base(load_core_u64(v.core, layout::kSpsr)));
}

std::optional<kvm::BackendStop> SimBackend::execute_locked(unsigned vcpu, bool single_step) {
  Vcpu& v = vcpus_[vcpu];
  const kvm::GuestDebug& dbg = debug_[vcpu];
  // A pending interrupt is taken before the next instruction (sim_irq.cpp);
  // a single-step then ends on the vector, as on KVM.
  if (take_pending_irq_locked(vcpu)) {
    if (single_step) return kvm::BackendStop{vcpu, kvm::StopReason::Stepped, esr(kEcStepLower), 0};
    return std::nullopt;
  }
  const std::uint64_t pc = load_core_u64(v.core, layout::kPc);
  const bool debugging = dbg.control & kvm::GuestDebug::kEnable;
  // A hardware breakpoint fires before the instruction executes.
  if (debugging && (dbg.control & kvm::GuestDebug::kUseHw)) {
    for (unsigned i = 0; i < kvm::GuestDebug::kMaxHw; ++i)
      if ((dbg.bcr[i] & 1) && dbg.bvr[i] == pc)
        return kvm::BackendStop{vcpu, kvm::StopReason::Breakpoint, esr(kEcHwBreakLower), 0};
  }
  std::optional<std::uint32_t> insn;
  if (pc >= cfg_.ram_base && pc - cfg_.ram_base + 4 <= ram_.size() && pc % 4 == 0) {
    const std::size_t off = pc - cfg_.ram_base;
    insn = std::uint32_t(std::to_integer<unsigned>(ram_[off])) |
           std::uint32_t(std::to_integer<unsigned>(ram_[off + 1])) << 8 |
           std::uint32_t(std::to_integer<unsigned>(ram_[off + 2])) << 16 |
           std::uint32_t(std::to_integer<unsigned>(ram_[off + 3])) << 24;
  }
  if (!insn) {
    take_exception_locked(vcpu, esr(kEcInsnAbortSameEl));
  } else if (*insn == kNop) {
    store_core_u64(v.core, layout::kPc, pc + 4);
    store_core_u64(v.core, layout::kRegs, load_core_u64(v.core, layout::kRegs) + 1);
  } else if ((*insn & 0xfc000000) == 0x14000000) {
    // B label: imm26 words, sign-extended.
    const std::int64_t imm = static_cast<std::int64_t>(static_cast<std::int32_t>(*insn << 6) >> 6);
    store_core_u64(v.core, layout::kPc, pc + static_cast<std::uint64_t>(imm * 4));
  } else if ((*insn & 0xffe0001f) == 0xd4200000) {
    // BRK #imm16: with KVM_GUESTDBG_USE_SW_BP it exits to the debugger with
    // pc still at the BRK; otherwise the guest takes the exception.
    const std::uint32_t imm16 = (*insn >> 5) & 0xffff;
    if (debugging && (dbg.control & kvm::GuestDebug::kUseSwBp))
      return kvm::BackendStop{vcpu, kvm::StopReason::Breakpoint, esr(kEcBrk64, imm16), 0};
    take_exception_locked(vcpu, esr(kEcBrk64, imm16));
  } else if (std::optional<kvm::BackendStop> watch; execute_store_locked(vcpu, *insn, pc, watch)) {
    // A watchpoint stops before the access: pc and memory unchanged (sim_store.cpp).
    if (watch) return watch;
  } else if (!execute_system_locked(vcpu, *insn, pc)) {  // DAIF, SVC, ERET (sim_irq.cpp)
    take_exception_locked(vcpu, esr(kEcUnknown));
  }
  irq_tick_locked(vcpu);
  if (single_step) return kvm::BackendStop{vcpu, kvm::StopReason::Stepped, esr(kEcStepLower), 0};
  return std::nullopt;
}

Status SimBackend::set_guest_debug(unsigned vcpu, const kvm::GuestDebug& debug) {
  std::lock_guard lock(mu_);
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {}", vcpu);
  if (busy_locked(vcpu)) return make_error(EBUSY, "vCPU {} is running", vcpu);
  debug_[vcpu] = debug;
  return {};
}

void SimBackend::run_loop() {
  // The simulated vCPUs run here, one instruction each in turn, in slices;
  // between slices the lock is released and the thread naps, so a guest
  // spinning in `b .` costs little CPU and interrupt() is served at once.
  constexpr unsigned kSliceRounds = 4096;
  std::unique_lock lock(mu_);
  while (!shutdown_) {
    wake_.wait(lock, [this] { return shutdown_ || running_ || any_vcpu_runs_locked(); });
    if (non_stop_) {
      run_slice_nonstop(lock);
      wake_.wait_for(lock, std::chrono::milliseconds(1), [this] { return shutdown_ || !any_vcpu_runs_locked(); });
      continue;
    }
    while (running_ && !shutdown_) {
      std::optional<kvm::BackendStop> stop;
      for (unsigned round = 0; round < kSliceRounds && !stop; ++round)
        for (unsigned v = 0; v < vcpus_.size() && !stop; ++v) stop = execute_locked(v, false);
      if (stop) {
        running_ = false;  // all-stop: every vCPU stops with it
        pending_ = stop;
        notify_stop(lock);
        lock.lock();
        break;
      }
      wake_.wait_for(lock, std::chrono::milliseconds(1), [this] { return shutdown_ || !running_; });
    }
  }
}

void SimBackend::run_slice_nonstop(std::unique_lock<std::mutex>& lock) {
  // As the all-stop loop, over the vCPUs that run; a debug event stops its
  // own vCPU only.
  constexpr unsigned kSliceRounds = 4096;
  bool stopped = false;
  for (unsigned round = 0; round < kSliceRounds; ++round) {
    for (unsigned v = 0; v < vcpus_.size(); ++v) {
      if (!vcpu_run_[v]) continue;
      if (auto stop = execute_locked(v, false)) {
        vcpu_run_[v] = 0;
        vcpu_stops_.push_back(*stop);
        stopped = true;
      }
    }
  }
  if (stopped) {
    notify_stop(lock);
    lock.lock();
  }
}

bool SimBackend::any_vcpu_runs_locked() const {
  return std::any_of(vcpu_run_.begin(), vcpu_run_.end(), [](char r) { return r != 0; });
}

Status SimBackend::set_non_stop(bool on) {
  std::lock_guard lock(mu_);
  if (on && running_) return make_error(EBUSY, "the guest runs: stop it before entering non-stop mode");
  non_stop_ = on;
  vcpu_run_.assign(vcpus_.size(), 0);  // entering: all stopped already; leaving: every vCPU stops
  vcpu_stops_.clear();
  pending_.reset();
  return {};
}

Status SimBackend::resume_vcpu(unsigned vcpu, bool step) {
  std::unique_lock lock(mu_);
  if (!non_stop_) return make_error(EINVAL, "vCPU {}: per-vCPU resume needs non-stop mode", vcpu);
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  if (vcpu_run_[vcpu]) return make_error(EBUSY, "vCPU {} is running", vcpu);
  if (vmm_gone_) {
    vcpu_stops_.push_back(kvm::BackendStop{vcpu, kvm::StopReason::Exited, 0, 0});
    notify_stop(lock);
    return {};
  }
  if (step) {
    // KVM_GUESTDBG_SINGLESTEP on this vCPU alone: one instruction, now.
    if (auto stop = execute_locked(vcpu, /*single_step=*/true)) vcpu_stops_.push_back(*stop);
    notify_stop(lock);
    return {};
  }
  vcpu_run_[vcpu] = 1;
  lock.unlock();
  wake_.notify_all();
  return {};
}

Status SimBackend::stop_vcpu(unsigned vcpu) {
  std::unique_lock lock(mu_);
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  if (!non_stop_ || !vcpu_run_[vcpu]) return {};
  vcpu_run_[vcpu] = 0;
  vcpu_stops_.push_back(kvm::BackendStop{vcpu, kvm::StopReason::Interrupted, 0, 0});
  notify_stop(lock);
  return {};
}

bool SimBackend::vcpu_running(unsigned vcpu) const {
  std::lock_guard lock(mu_);
  return busy_locked(vcpu);
}

void SimBackend::notify_stop(std::unique_lock<std::mutex>& lock) {
  auto notify = notify_;
  lock.unlock();
  if (notify) notify();
}

Status SimBackend::resume(std::span<const unsigned> step, bool /*others_run*/) {
  std::unique_lock lock(mu_);
  if (non_stop_) return make_error(EINVAL, "the guest is in non-stop mode: resume vCPUs one by one");
  for (unsigned v : step)
    if (v >= vcpus_.size()) return make_error(ESRCH, "cannot step vCPU {}: the guest has {}", v, vcpus_.size());
  pending_.reset();
  if (vmm_gone_) {
    // What a KVM backend reports when the VMM has exited: nothing runs.
    pending_ = kvm::BackendStop{0, kvm::StopReason::Exited, 0, 0};
    notify_stop(lock);
    return {};
  }
  irq_on_resume_locked();  // the timer ran on while the guest was stopped
  if (step.empty()) {
    running_ = true;
    lock.unlock();
    wake_.notify_all();
    return {};
  }
  // Each listed vCPU executes one instruction (KVM_GUESTDBG_SINGLESTEP);
  // the others execute nothing meanwhile, so a step is deterministic. The
  // first stop is reported: a breakpoint hit instead of the step, or the
  // step itself.
  std::vector<unsigned> done;
  std::optional<kvm::BackendStop> first;
  for (unsigned v : step) {
    if (std::find(done.begin(), done.end(), v) != done.end()) continue;
    auto stop = execute_locked(v, /*single_step=*/true);
    if (!first) first = stop;
    done.push_back(v);
  }
  running_ = false;
  pending_ = first;
  notify_stop(lock);
  return {};
}

void SimBackend::interrupt() {
  std::unique_lock lock(mu_);
  if (!running_) return;
  running_ = false;
  pending_ = kvm::BackendStop{last_stop_vcpu_, kvm::StopReason::Interrupted};
  notify_stop(lock);
}

bool SimBackend::running() const {
  std::lock_guard lock(mu_);
  return running_ || any_vcpu_runs_locked();
}

std::optional<kvm::BackendStop> SimBackend::poll_stop() {
  std::lock_guard lock(mu_);
  if (non_stop_) {
    if (vcpu_stops_.empty()) return std::nullopt;
    auto stop = vcpu_stops_.front();
    vcpu_stops_.pop_front();
    last_stop_vcpu_ = stop.vcpu;
    return stop;
  }
  auto stop = pending_;
  pending_.reset();
  if (stop) last_stop_vcpu_ = stop->vcpu;
  return stop;
}

void SimBackend::set_stop_notifier(std::function<void()> notify) {
  std::lock_guard lock(mu_);
  notify_ = std::move(notify);
}

Detached SimBackend::detach() {
  {
    std::lock_guard lock(mu_);
    pending_.reset();
    non_stop_ = false;  // the next client starts in all-stop mode
    vcpu_run_.assign(vcpus_.size(), 0);
    vcpu_stops_.clear();
    if (vmm_gone_) return Detached::GuestGone;
    running_ = true;
  }
  wake_.notify_all();
  return Detached::Resumed;
}

void SimBackend::kill() {
  std::lock_guard lock(mu_);
  vmm_gone_ = false;
  running_ = false;
  pending_.reset();
  reset_locked();
  if (setup_) setup_locked();
}

// --- monitor --------------------------------------------------------------
}  // namespace svedbg::introspect
