// All-stop run control over VMM vCPU threads (see vcpu_gate.hpp).
#include "kvm/inprocess/vcpu_gate.hpp"

#include "kvm/debug_exit.hpp"

#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include <fmt/format.h>

namespace svedbg::kvm {
namespace {

// Only interrupts the system call (KVM_RUN) in progress.
void kick_handler(int) {}

void install_kick_handler(int sig) {
  struct sigaction sa {};
  sa.sa_handler = kick_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  if (::sigaction(sig, &sa, nullptr) != 0)
    throw std::system_error(errno, std::generic_category(), fmt::format("sigaction({})", sig));
}

// kvm_run is shared with the kernel; immediate_exit is polled once when
// KVM_RUN starts (api.rst), written here from the debugger and vCPU threads.
void set_immediate_exit(kvm_run* run, bool on) {
  std::atomic_ref<__u8>(run->immediate_exit).store(on ? 1 : 0, std::memory_order_seq_cst);
}

// The stop a KVM_EXIT_DEBUG reports: ESR_EL2.EC of the debug exception
// (arm64 struct kvm_debug_exit_arch { hsr; hsr_high; far; }).
BackendStop debug_stop(unsigned i, const kvm_run* run, bool stepping) {
#if defined(__aarch64__)
  return debug_exit_stop(i, run->debug.arch.hsr, run->debug.arch.far, stepping);
#else
  (void)run;
  return debug_exit_stop(i, 0, 0, stepping);
#endif
}

}  // namespace

VcpuGate::VcpuGate(std::vector<GateVcpu> vcpus, int kick_signal, bool hold_at_start)
    : signal_(kick_signal != 0 ? kick_signal : SIGRTMIN + 6) {
  vcpus_.resize(vcpus.size());
  for (std::size_t i = 0; i < vcpus.size(); ++i) {
    vcpus_[i].fd = vcpus[i].fd;
    vcpus_[i].run = vcpus[i].run;
    vcpus_[i].hold = hold_at_start;
  }
  stopping_ = hold_at_start;
  install_kick_handler(signal_);
}

VcpuGate::~VcpuGate() {
  // Never leave VMM threads parked forever on a gate that is going away.
  std::lock_guard lock(mu_);
  for (auto& v : vcpus_) v.hold = false;
  cv_.notify_all();
}

// --- VMM side ----------------------------------------------------------------

void VcpuGate::before_run(unsigned i) {
  std::unique_lock lock(mu_);
  Vcpu& v = vcpus_[i];
  v.thread = ::pthread_self();
  if (v.hold) {
    if (v.needs_completion) {
      // Finish the pending MMIO (etc.) without running guest code.
      set_immediate_exit(v.run, true);
      (void)::ioctl(v.fd, KVM_RUN, 0);  // EINTR by design
      v.needs_completion = false;
    }
    v.state = State::Parked;
    if (!first_parked_) first_parked_ = i;
    run_notifier(lock, complete_locked());
    if (non_stop_) run_notifier(lock, parked_nonstop_locked(i));
    cv_.wait(lock, [&] { return !v.hold; });
  }
  if (v.debug_dirty) {
    // Set by set_guest_debug() while this vCPU ran (non-stop); an error
    // leaves the old settings (KVM_SET_GUEST_DEBUG changes nothing then).
    v.debug_dirty = false;
    (void)apply_debug_locked(i, v.step_armed);
  }
  set_immediate_exit(v.run, false);
  v.state = State::InRun;
}

bool VcpuGate::on_exit(unsigned i, int run_errno) {
  std::unique_lock lock(mu_);
  Vcpu& v = vcpus_[i];
  v.state = State::Outside;
  if (run_errno == EINTR) {
    v.needs_completion = false;
    return true;
  }
  if (run_errno == 0 && v.run->exit_reason == KVM_EXIT_DEBUG) {
    v.needs_completion = false;
    if (non_stop_) {
      // Non-stop: this vCPU alone stops, and reports why when it parks.
      v.ns_reason = debug_stop(i, v.run, v.step_armed);
      v.hold = true;
      return true;
    }
    // A single-step we armed or a breakpoint/watchpoint KVM routed to us:
    // either way the whole guest stops here.
    if (!stopping_ && running_) {
      stopping_ = true;
      reason_ = debug_stop(i, v.run, v.step_armed);
      hold_all_locked();
    }
    v.hold = true;
    return true;
  }
  v.needs_completion = run_errno == 0;
  return false;
}

void VcpuGate::thread_exited(unsigned i) {
  std::unique_lock lock(mu_);
  vcpus_[i].state = State::Exited;
  run_notifier(lock, complete_locked());
}

// --- debugger side -------------------------------------------------------------

void VcpuGate::kick_locked(Vcpu& v) {
  set_immediate_exit(v.run, true);
  if (v.state == State::InRun) ::pthread_kill(v.thread, signal_);
}

void VcpuGate::hold_all_locked() {
  for (auto& v : vcpus_) {
    if (v.state == State::Exited) continue;
    v.hold = true;
    kick_locked(v);
  }
}

std::function<void()> VcpuGate::complete_locked() {
  if (!stopping_) return {};
  for (const auto& v : vcpus_)
    if (v.state != State::Parked && v.state != State::Exited) return {};
  stopping_ = false;
  running_ = false;
  unsigned first = first_parked_.value_or(last_stop_vcpu_);
  pending_ = reason_ ? *reason_ : BackendStop{first, StopReason::Interrupted};
  reason_.reset();
  first_parked_.reset();
  return notify_ ? notify_ : std::function<void()>{};
}

void VcpuGate::run_notifier(std::unique_lock<std::mutex>& lock, std::function<void()> notify) {
  if (!notify) return;
  lock.unlock();
  notify();
  lock.lock();
}

bool VcpuGate::parked(unsigned i) const {
  std::lock_guard lock(mu_);
  return i < vcpus_.size() && (vcpus_[i].state == State::Parked || vcpus_[i].state == State::Exited);
}

// KVM_SET_GUEST_DEBUG (api.rst): control = KVM_GUESTDBG_ENABLE |
// KVM_GUESTDBG_SINGLESTEP makes the vCPU exit with KVM_EXIT_DEBUG after one
// instruction; USE_SW_BP/USE_HW route BRK and the DBGB/DBGW registers in
// struct kvm_guest_debug_arch (arm64) to userspace; control = 0 turns guest
// debugging off.
Status VcpuGate::apply_debug_locked(unsigned i, bool step) {
  Vcpu& v = vcpus_[i];
  struct kvm_guest_debug dbg {};
  dbg.control = v.debug.control;
  if (step) dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
  if (dbg.control != 0) dbg.control |= KVM_GUESTDBG_ENABLE;
#if defined(__aarch64__)
  for (unsigned n = 0; n < GuestDebug::kMaxHw && n < KVM_ARM_MAX_DBG_REGS; ++n) {
    dbg.arch.dbg_bcr[n] = v.debug.bcr[n];
    dbg.arch.dbg_bvr[n] = v.debug.bvr[n];
    dbg.arch.dbg_wcr[n] = v.debug.wcr[n];
    dbg.arch.dbg_wvr[n] = v.debug.wvr[n];
  }
#endif
  if (dbg.control == 0 && !v.debug_applied) {
    v.step_armed = false;
    return {};
  }
  if (::ioctl(v.fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
    const int err = errno;
    return make_error(err, "vCPU {}: KVM_SET_GUEST_DEBUG(control {:#x}): {}", i, dbg.control, std::strerror(err));
  }
  v.step_armed = step;
  v.debug_applied = dbg.control != 0;
  return {};
}

Status VcpuGate::set_guest_debug(unsigned i, const GuestDebug& debug) {
  std::lock_guard lock(mu_);
  if (i >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", i, vcpus_.size());
  Vcpu& v = vcpus_[i];
  // Also while a stop asked of it is on the way: it parks first, and
  // applies it when released.
  if (v.state == State::InRun && non_stop_) {
    v.debug = debug;
    v.debug_dirty = true;
    kick_locked(v);  // out of KVM_RUN (EINTR, not a stop); before_run() applies it
    return {};
  }
  if (v.state == State::InRun) return make_error(EBUSY, "vCPU {} is running; stop it first", i);
  v.debug = debug;
  if (v.state == State::Exited) return {};
  return apply_debug_locked(i, v.step_armed);
}

Status VcpuGate::resume(std::span<const unsigned> step, bool others_run) {
  std::unique_lock lock(mu_);
  for (unsigned s : step)
    if (s >= vcpus_.size()) return make_error(ESRCH, "cannot step vCPU {}: the guest has {}", s, vcpus_.size());
  if (running_ || stopping_) return make_error(EBUSY, "the guest is running; stop it first");
  if (non_stop_) return make_error(EINVAL, "the guest is in non-stop mode: resume vCPUs one by one");
  for (unsigned i = 0; i < vcpus_.size(); ++i) {
    const bool want = std::find(step.begin(), step.end(), i) != step.end();
    if (vcpus_[i].state == State::Exited) continue;
    if (want || vcpus_[i].step_armed)
      if (auto s = apply_debug_locked(i, want); !s) return s;
  }
  pending_.reset();
  reason_.reset();
  first_parked_.reset();
  running_ = true;
  for (unsigned i = 0; i < vcpus_.size(); ++i) {
    const bool stepping = std::find(step.begin(), step.end(), i) != step.end();
    if (stepping || others_run || step.empty()) vcpus_[i].hold = false;
  }
  cv_.notify_all();
  return {};
}

void VcpuGate::interrupt() {
  std::unique_lock lock(mu_);
  if (!running_ || stopping_) return;
  stopping_ = true;
  hold_all_locked();
  run_notifier(lock, complete_locked());
}

std::optional<BackendStop> VcpuGate::poll_stop() {
  std::lock_guard lock(mu_);
  if (non_stop_) {
    if (ns_stops_.empty()) return std::nullopt;
    BackendStop s = ns_stops_.front();
    ns_stops_.pop_front();
    last_stop_vcpu_ = s.vcpu;
    return s;
  }
  auto stop = pending_;
  pending_.reset();
  if (stop) last_stop_vcpu_ = stop->vcpu;
  return stop;
}

bool VcpuGate::running() const {
  std::lock_guard lock(mu_);
  if (non_stop_)
    return std::any_of(vcpus_.begin(), vcpus_.end(), [](const Vcpu& v) {
      return !(v.hold && (v.state == State::Parked || v.state == State::Exited));
    });
  return running_;
}

void VcpuGate::set_stop_notifier(std::function<void()> notify) {
  std::lock_guard lock(mu_);
  notify_ = std::move(notify);
}

Status VcpuGate::release_all() {
  std::lock_guard lock(mu_);
  Status result;
  for (unsigned i = 0; i < vcpus_.size(); ++i) {
    vcpus_[i].debug = {};
    if (vcpus_[i].state == State::Exited) continue;
    if (auto s = apply_debug_locked(i, false); !s && result) result = s;
  }
  pending_.reset();
  reason_.reset();
  first_parked_.reset();
  stopping_ = false;
  running_ = true;
  non_stop_ = false;
  ns_stops_.clear();
  for (auto& v : vcpus_) v.hold = false;
  cv_.notify_all();
  return result;
}

}  // namespace svedbg::kvm
