// VcpuGate (vcpu_gate.hpp) in non-stop mode: one vCPU thread is held and
// kicked out of KVM_RUN while the others go on running the guest.
#include <linux/kvm.h>

#include <algorithm>
#include <chrono>

#include "kvm/inprocess/vcpu_gate.hpp"

namespace svedbg::kvm {

std::function<void()> VcpuGate::parked_nonstop_locked(unsigned i) {
  Vcpu& v = vcpus_[i];
  cv_.notify_all();  // set_non_stop(false) may be waiting for every vCPU to park
  if (!v.ns_reason && !v.ns_report) return {};
  ns_stops_.push_back(v.ns_reason ? *v.ns_reason : BackendStop{i, StopReason::Interrupted});
  v.ns_reason.reset();
  v.ns_report = false;
  return notify_ ? notify_ : std::function<void()>{};
}

Status VcpuGate::set_non_stop(bool on) {
  std::unique_lock lock(mu_);
  if (on) {
    if (running_ || stopping_) return make_error(EBUSY, "the guest is running: stop it before entering non-stop mode");
    non_stop_ = true;
    ns_stops_.clear();
    for (auto& v : vcpus_) {
      v.ns_report = false;
      v.ns_reason.reset();
    }
    return {};
  }
  if (!non_stop_) return {};
  // Leaving: every vCPU stops, as after interrupt(), and nothing is reported.
  for (auto& v : vcpus_) {
    if (v.state == State::Exited || v.hold) continue;
    v.hold = true;
    kick_locked(v);
  }
  const bool all = cv_.wait_for(lock, std::chrono::seconds(5), [this] {
    return std::all_of(vcpus_.begin(), vcpus_.end(),
                       [](const Vcpu& v) { return v.state == State::Parked || v.state == State::Exited; });
  });
  non_stop_ = false;
  ns_stops_.clear();
  for (auto& v : vcpus_) {
    v.ns_report = false;
    v.ns_reason.reset();
  }
  running_ = false;
  pending_.reset();
  if (!all) return make_error(ETIMEDOUT, "leaving non-stop mode: a vCPU thread did not stop within 5 s");
  return {};
}

Status VcpuGate::stop_vcpu(unsigned i) {
  std::unique_lock lock(mu_);
  if (i >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", i, vcpus_.size());
  if (!non_stop_) return make_error(EINVAL, "vCPU {}: per-vCPU stop needs non-stop mode", i);
  Vcpu& v = vcpus_[i];
  if (v.hold || v.state == State::Exited) return {};  // stopped, or its stop is on the way
  v.hold = true;
  if (v.state == State::Parked) {
    // Released by resume_vcpu() but its thread has not left before_run()
    // yet: it now stays parked there, so its stop is complete at once.
    ns_stops_.push_back(BackendStop{i, StopReason::Interrupted});
    run_notifier(lock, notify_ ? notify_ : std::function<void()>{});
    return {};
  }
  v.ns_report = true;
  kick_locked(v);
  return {};
}

Status VcpuGate::resume_vcpu(unsigned i, bool step) {
  std::lock_guard lock(mu_);
  if (i >= vcpus_.size()) return make_error(ESRCH, "no vCPU {} (the guest has {})", i, vcpus_.size());
  if (!non_stop_) return make_error(EINVAL, "vCPU {}: per-vCPU resume needs non-stop mode", i);
  Vcpu& v = vcpus_[i];
  if (v.state == State::Exited) return make_error(ESRCH, "vCPU {}: its thread has exited", i);
  if (!v.hold || v.state != State::Parked) return make_error(EBUSY, "vCPU {} is running", i);
  if (step || v.step_armed)
    if (auto s = apply_debug_locked(i, step); !s) return s;
  v.hold = false;
  cv_.notify_all();
  return {};
}

bool VcpuGate::vcpu_running(unsigned i) const {
  std::lock_guard lock(mu_);
  if (i >= vcpus_.size()) return false;
  const Vcpu& v = vcpus_[i];
  if (!non_stop_) return running_;
  return !(v.hold && (v.state == State::Parked || v.state == State::Exited));
}

}  // namespace svedbg::kvm
