// GuestTarget (guest_target.hpp): non-stop mode ("Remote Non-Stop" in the
// GDB manual) over the backend's per-vCPU run control
// (kvm::VcpuRunControl): one vCPU stops and is read while the others run.
#include <algorithm>

#include "introspect/guest_target.hpp"

namespace svedbg::introspect {

using gdbstub::ResumeKind;
using gdbstub::Signal;
using gdbstub::ThreadId;

gdbstub::NonStopTarget* GuestTarget::non_stop() { return vcpu_control() ? this : nullptr; }

Status GuestTarget::set_non_stop(bool on) {
  kvm::VcpuRunControl* vc = vcpu_control();
  if (!vc)
    return make_error(ENOTSUP, "the {} backend cannot run one vCPU at a time (no non-stop mode)", backend_.name());
  if (on == non_stop_) return {};
  // gdb sends QNonStop:1 before `?`: the all-stop attach() began ends here.
  if (auto st = settle(); !st) return st;
  if (auto st = vc->set_non_stop(on); !st) return st;
  non_stop_ = on;
  stop_signal_.assign(backend_.vcpu_count(), Signal::Int);
  cache_.invalidate();
  // Entering, every vCPU is stopped: each gets USE_SW_BP now, so that a
  // breakpoint inserted later while it runs traps to us (wanted_debug()).
  if (auto st = apply_guest_debug(); !st || !on) return st;
  // The guest runs on, but for the last stop's vCPU, which `?` reports.
  // gdb-multiarch 13.1 cannot take more than one stopped thread when it
  // connects in non-stop mode (remote.c:8351 internal error, "wait:
  // Assertion `!async_event_handler_marked ...'"; tests/e2e/test_nonstop.py),
  // and a VM's vCPUs ran before the client came.
  for (unsigned v = 0; v < backend_.vcpu_count(); ++v) {
    if (v + 1 == last_stop_.thread) continue;
    if (auto st = vcpu_control()->resume_vcpu(v, false); !st) return st;
  }
  return {};
}

void GuestTarget::leave_non_stop() {
  if (!non_stop_) return;
  if (auto* vc = vcpu_control()) (void)vc->set_non_stop(false);  // stops the vCPUs still running
  non_stop_ = false;
  cache_.invalidate();
}

Status GuestTarget::resume_thread(ThreadId tid, ResumeKind kind) {
  if (!non_stop_) return make_error(EINVAL, "thread {}: per-thread resume needs non-stop mode", tid);
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  if (kind == ResumeKind::Stop) return stop_thread(tid, Signal::None);
  cache_.invalidate();
  // Breakpoints changed since this vCPU stopped reach it now.
  if (auto st = apply_guest_debug(); !st) return st;
  return vcpu_control()->resume_vcpu(*v, kind == ResumeKind::Step);
}

Status GuestTarget::stop_thread(ThreadId tid, Signal signal) {
  if (!non_stop_) return make_error(EINVAL, "thread {}: per-thread stop needs non-stop mode", tid);
  auto v = vcpu_of(tid);
  if (!v) return v.error();
  stop_signal_[*v] = signal;
  return vcpu_control()->stop_vcpu(*v);
}

bool GuestTarget::thread_running(ThreadId tid) {
  auto v = vcpu_of(tid);
  if (!v || !run_) return false;
  if (auto* vc = vcpu_control(); vc && non_stop_) return vc->vcpu_running(*v);
  return run_->running();
}

Status GuestTarget::check_stopped(unsigned vcpu) {
  if (!non_stop_) return {};  // all-stop: the session only asks while stopped
  if (vcpu_control()->vcpu_running(vcpu))
    return make_error(EBUSY, "thread {} (vCPU {}) is running: stop it to read its registers", vcpu + 1,
                      backend_.vmm_index(vcpu));
  return {};
}

Status GuestTarget::apply_debug_now() {
  // Non-stop: the running vCPUs get a hardware breakpoint or watchpoint at
  // once where the backend can change a running vCPU's guest debug
  // (kvm::VcpuRunControl::debug_while_running()); else at their resume.
  if (!non_stop_ || !vcpu_control()->debug_while_running()) return {};
  return apply_guest_debug();
}

kvm::GuestDebug GuestTarget::wanted_debug() const {
  kvm::GuestDebug want = breakpoints_.guest_debug();
  if (non_stop_ && run_ && run_->debug_caps().guest_debug)
    want.control |= kvm::GuestDebug::kEnable | kvm::GuestDebug::kUseSwBp;
  return want;
}

ThreadId GuestTarget::memory_thread() {
  if (!non_stop_ || check_stopped(static_cast<unsigned>(last_stop_.thread - 1))) return last_stop_.thread;
  for (unsigned v = 0; v < backend_.vcpu_count(); ++v)
    if (check_stopped(v)) return v + 1;
  return last_stop_.thread;
}

}  // namespace svedbg::introspect
