// AttachBackend (attach_backend.hpp) as a kvm::VcpuRunControl: gdb's
// non-stop mode ("Remote Non-Stop" in the GDB manual) on an attached VMM.
// One vCPU's thread stops (ThreadTracker non-stop,
// ptrace_threads_nonstop.cpp) and is read through injection while the
// VMM's other vCPU and I/O threads run.
#if defined(__aarch64__)

#include <sys/syscall.h>
#include <unistd.h>

#include "kvm/attach/attach_backend.hpp"
#include "kvm/attach/attach_impl.hpp"

namespace svedbg::kvm {

Status AttachBackend::check_vcpu(unsigned vcpu) const {
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  if (!impl_->threads.non_stop()) return {};
  return impl_->threads.check_vcpu_stopped(vcpu);
}

Status AttachBackend::set_non_stop(bool on) {
  auto& im = *impl_;
  im.threads.pump();
  if (on == im.threads.non_stop()) return {};
  if (!on) return im.threads.leave_non_stop(5000);
  if (im.threads.state() == ThreadTracker::State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", pid_);
  if (im.threads.state() != ThreadTracker::State::Stopped)
    return make_error(EBUSY, "the VMM is running: stop it before entering non-stop mode");
  im.batches.put_cave_back();  // the VMM's other threads run from here on
  im.new_stop();
  return im.threads.enter_non_stop();
}

Status AttachBackend::resume_vcpu(unsigned vcpu, bool step) {
  auto& im = *impl_;
  im.threads.pump();
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  if (!im.threads.non_stop()) return make_error(EINVAL, "vCPU {}: per-vCPU resume needs non-stop mode", vcpu);
  if (!im.threads.vcpu_running(vcpu)) {
    // The settings the all-stop resume() gives it: its breakpoints, and
    // single-step when stepping (KVM_SET_GUEST_DEBUG while it is stopped).
    GuestDebug want = vcpus_[vcpu].debug;
    if (step) want.control |= GuestDebug::kEnable | GuestDebug::kSingleStep;
    im.threads.prefer_vcpu(vcpu);
    if (im.injector.applied(vcpu) != want)
      if (auto s = im.injector.apply_debug(vcpu, want); !s) return s;
  }
  im.batches.put_cave_back();
  im.new_stop();
  return im.threads.resume_vcpu(vcpu);
}

Status AttachBackend::stop_vcpu(unsigned vcpu) {
  auto& im = *impl_;
  im.threads.pump();
  if (vcpu >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", vcpu, vcpus_.size());
  return im.threads.stop_vcpu(vcpu);
}

// KVM_SET_GUEST_DEBUG needs the vCPU out of KVM_RUN (its mutex): its
// thread is stopped (no stop reported), the settings injected through it,
// and it runs on, unless a stop of its own was asked or came meanwhile
// (then it stays stopped for that one).
Status AttachBackend::set_guest_debug_running(unsigned vcpu, const GuestDebug& debug) {
  auto& im = *impl_;
  if (auto s = im.threads.pause_vcpu(vcpu, 5000); !s) return s;
  vcpus_[vcpu].debug = debug;
  Status applied;
  if (im.injector.applied(vcpu) != debug) {
    im.threads.prefer_vcpu(vcpu);
    applied = im.injector.apply_debug(vcpu, debug);
  }
  if (im.threads.stop_owed(vcpu)) return applied;
  im.batches.put_cave_back();
  im.new_stop();
  if (auto s = im.threads.resume_vcpu(vcpu); !s) return s;
  return applied;
}

bool AttachBackend::vcpu_running(unsigned vcpu) const {
  auto& im = *impl_;
  if (static_cast<pid_t>(::syscall(SYS_gettid)) == im.threads.tracer()) im.threads.pump();
  return im.threads.vcpu_running(vcpu);
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
