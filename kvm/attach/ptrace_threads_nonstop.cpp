// ThreadTracker (ptrace_threads.hpp) in non-stop mode: one vCPU thread is
// stopped (PTRACE_INTERRUPT acts on one thread: ptrace(2), "PTRACE_INTERRUPT"
// and "Group-stop") while the VMM's other vCPU and I/O threads keep running.
#if defined(__aarch64__)

#include <sys/ptrace.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "kvm/attach/ptrace_threads.hpp"

namespace svedbg::kvm {

std::optional<BackendStop> ThreadTracker::take_pending() {
  if (pending_) return std::exchange(pending_, std::nullopt);
  if (!non_stop_ || ns_stops_.empty()) return std::nullopt;
  const BackendStop s = ns_stops_.front();
  ns_stops_.pop_front();
  return s;
}

std::optional<pid_t> ThreadTracker::thread_of_vcpu(unsigned v) const {
  if (v >= vcpus_.size()) return std::nullopt;
  auto tid = thread_of_fd(vcpus_[v].fd);
  if (!tid || !threads_.count(*tid)) return std::nullopt;
  return tid;
}

// Every vCPU thread (one whose vCPU fd is known) stays stopped, held;
// every other thread runs. Syscalls are traced from here on, so that a
// KVM_RUN returning KVM_EXIT_DEBUG is seen (breakpoints inserted while
// vCPUs run) and a vCPU thread not known yet is learned at its next
// KVM_RUN.
Status ThreadTracker::enter_non_stop() {
  if (state_ == State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", pid_);
  if (state_ != State::Stopped) return make_error(EBUSY, "the VMM is running: stop it before entering non-stop mode");
  non_stop_ = true;
  ns_wanted_.assign(vcpus_.size(), false);
  ns_stops_.clear();
  pending_.reset();
  reason_.reset();
  first_vcpu_.reset();
  trace_syscalls_ = true;
  state_ = State::Running;
  forget_thread_state();
  for (auto& [tid, t] : threads_) {
    if (vcpu_of_thread(tid))
      t.held = true;
    else
      cont(tid, t);
  }
  watcher_.arm(true);
  return {};
}

// Every thread stops, as an all-stop interrupt; the stops not yet taken
// are dropped (VcpuRunControl::set_non_stop(false)).
Status ThreadTracker::leave_non_stop(int ms) {
  if (!non_stop_) return {};
  const bool all = stop_all(ms);
  non_stop_ = false;
  ns_wanted_.clear();
  ns_stops_.clear();
  if (state_ == State::Exited) return {};
  pending_.reset();
  if (!all) return make_error(ETIMEDOUT, "leaving non-stop mode: not every thread of the VMM stopped within {} ms", ms);
  return {};
}

Status ThreadTracker::resume_vcpu(unsigned v) {
  if (state_ == State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", pid_);
  if (!non_stop_) return make_error(EINVAL, "vCPU {}: per-vCPU resume needs non-stop mode", v);
  const auto tid = thread_of_vcpu(v);
  // A vCPU whose thread is not known was never stopped: it runs already.
  if (!tid) return {};
  Thread& t = threads_[*tid];
  if (t.stop == Stop::Running) return make_error(EBUSY, "vCPU {} is running", v);
  ns_wanted_[v] = false;
  forget_thread_state();
  cont(*tid, t);
  watcher_.arm(true);
  return {};
}

Status ThreadTracker::stop_vcpu(unsigned v) {
  if (state_ == State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", pid_);
  if (!non_stop_) return make_error(EINVAL, "vCPU {}: per-vCPU stop needs non-stop mode", v);
  const auto tid = thread_of_vcpu(v);
  if (!tid)
    return make_error(EAGAIN, "vCPU {}: its thread is not known yet (not seen in KVM_RUN since svedbg attached)", v);
  Thread& t = threads_[*tid];
  if (t.stop != Stop::Running || t.held) return {};  // stopped, or its stop is on the way
  t.held = true;
  ns_wanted_[v] = true;
  ::ptrace(PTRACE_INTERRUPT, *tid, nullptr, nullptr);
  watcher_.arm(true);
  return {};
}

void ThreadTracker::prefer_vcpu(unsigned v) {
  const auto tid = thread_of_vcpu(v);
  if (tid == preferred_) return;
  preferred_ = tid;
  inject_candidates_.reset();
}

Status ThreadTracker::pause_vcpu(unsigned v, int ms) {
  const auto tid = thread_of_vcpu(v);
  if (!tid)
    return make_error(EAGAIN, "vCPU {}: its thread is not known yet (not seen in KVM_RUN since svedbg attached)", v);
  if (threads_[*tid].stop != Stop::Running) return {};
  threads_[*tid].held = true;
  ::ptrace(PTRACE_INTERRUPT, *tid, nullptr, nullptr);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  bool stopped = false;
  while (!stopped && std::chrono::steady_clock::now() < deadline) {
    pump();
    Thread* t = thread(*tid);
    if (!t) break;
    if (t->stop == Stop::SyscallEntry) {  // as collect_vcpu_stops()
      t->stop = Stop::Running;
      ::ptrace(PTRACE_SYSCALL, *tid, nullptr, nullptr);
      ::ptrace(PTRACE_INTERRUPT, *tid, nullptr, nullptr);
    }
    stopped = t->stop != Stop::Running;
    if (!stopped) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (state_ == State::Exited || !thread(*tid)) return make_error(ESRCH, "vCPU {}: its thread has exited", v);
  if (!stopped) return make_error(ETIMEDOUT, "vCPU {}: its thread did not stop within {} ms", v, ms);
  return {};
}

bool ThreadTracker::stop_owed(unsigned v) const {
  if (v < ns_wanted_.size() && ns_wanted_[v]) return true;
  return std::any_of(ns_stops_.begin(), ns_stops_.end(), [v](const BackendStop& s) { return s.vcpu == v; });
}

bool ThreadTracker::vcpu_running(unsigned v) const {
  if (state_ == State::Exited) return false;
  if (!non_stop_) return state_ != State::Stopped;
  const auto tid = thread_of_vcpu(v);
  if (!tid) return true;
  return threads_.at(*tid).stop == Stop::Running;
}

Status ThreadTracker::check_vcpu_stopped(unsigned v) const {
  if (!non_stop_) return check_stopped();
  if (state_ == State::Exited) return make_error(ESRCH, "the VMM (pid {}) has exited", pid_);
  if (vcpu_running(v)) return make_error(EBUSY, "vCPU {} is running: stop it to read its registers", v);
  return {};
}

// Each vCPU asked to stop whose thread is now stopped reports Interrupted.
// One stopped at a syscall entry (on its way into KVM_RUN, say) is no
// place to inject from (the call would replace the one it is making): it
// goes on into the call, which the pending interrupt ends (KVM_RUN with
// EINTR, rewound at its exit stop), and is interrupted again should the
// first interrupt have been used up by that stop.
void ThreadTracker::collect_vcpu_stops() {
  for (unsigned v = 0; v < ns_wanted_.size(); ++v) {
    if (!ns_wanted_[v]) continue;
    const auto tid = thread_of_vcpu(v);
    if (!tid) {
      ns_wanted_[v] = false;
      log_(fmt::format("vCPU {}: its thread exited before it stopped", v));
      continue;
    }
    Thread& t = threads_[*tid];
    if (t.stop == Stop::Running) continue;
    if (t.stop == Stop::SyscallEntry) {
      t.stop = Stop::Running;
      ::ptrace(PTRACE_SYSCALL, *tid, nullptr, nullptr);
      ::ptrace(PTRACE_INTERRUPT, *tid, nullptr, nullptr);
      continue;
    }
    ns_wanted_[v] = false;
    ns_stops_.push_back(BackendStop{v, StopReason::Interrupted, 0, 0});
  }
}

}  // namespace svedbg::kvm

#endif  // __aarch64__
