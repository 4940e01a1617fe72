// kvm::VcpuGate: all-stop run control over a VMM's own vCPU threads.
//
// Contract: the VMM keeps running KVM_RUN on its vCPU threads; each thread
// calls two hooks around every KVM_RUN on its vCPU i:
//
//   for (;;) {
//     gate.before_run(i);                      // parks while the debugger holds vCPU i
//     int rc = ioctl(vcpu_fd, KVM_RUN, 0);
//     if (gate.on_exit(i, rc < 0 ? errno : 0)) continue;  // the debugger's exit
//     ... handle run->exit_reason (MMIO, system events) as usual ...
//   }
//   gate.thread_exited(i);                     // when the thread leaves its loop
//
// To stop a vCPU inside KVM_RUN the gate sets run->immediate_exit = 1 and
// sends the vCPU thread (the one that called before_run(i)) the gate's kick
// signal, installed once with a handler that does nothing and without
// SA_RESTART, so KVM_RUN returns EINTR (Documentation/virt/kvm/api.rst,
// "immediate_exit"). The VMM must not block that signal on vCPU threads,
// and its other blocking calls on those threads must retry on EINTR.
// on_exit() returns true for exits the debugger caused (EINTR, and
// KVM_EXIT_DEBUG after a single-step): the VMM then just loops. A vCPU
// that is held parks in before_run(); if its last exit was an ordinary one
// (MMIO, ...) the gate first re-enters KVM_RUN with immediate_exit = 1 so KVM
// completes the pending operation without running the guest (api.rst,
// KVM_EXIT_MMIO: "the corresponding operations are complete (and guest
// state is consistent) only after userspace has re-entered the kernel with
// KVM_RUN"), so the registers the debugger reads are consistent.
//
// Debugger side (one thread): interrupt() holds every vCPU and kicks the
// ones in KVM_RUN; once every vCPU is parked (or its thread exited) the stop
// is complete: poll_stop() returns {first vCPU that parked, Interrupted} once
// and the notifier runs (from a vCPU thread, without the gate's lock).
// resume(step, others_run) arms KVM_SET_GUEST_DEBUG(KVM_GUESTDBG_ENABLE |
// KVM_GUESTDBG_SINGLESTEP) on the vCPUs in `step`, on top of the vCPU's
// breakpoint/watchpoint state from set_guest_debug(), and releases them (and
// the others when others_run). The first KVM_EXIT_DEBUG of any vCPU holds
// everyone and reports {that vCPU, reason, ESR, FAR}, the reason from
// ESR_EL2.EC (kvm_debug_exit_arch.hsr): software step 0x32/0x33 -> Stepped,
// BRK 0x3c and hardware breakpoints 0x30/0x31 -> Breakpoint, watchpoints
// 0x34/0x35 -> Watchpoint. Single-step is turned off again on the next
// resume; release_all() clears all guest debug state. parked(i) is true
// while vCPU i's fd may be used for ONE_REG ioctls (parked in before_run or
// its thread gone). When `hold_at_start` the vCPUs park at their first
// before_run() and a stop {first, Interrupted} completes once all arrived.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/backend.hpp"

struct kvm_run;

namespace svedbg::kvm {

struct GateVcpu {
  int fd = -1;             // the vCPU fd (KVM_CREATE_VCPU)
  kvm_run* run = nullptr;  // its mmap'ed struct kvm_run
};

class VcpuGate {
 public:
  // kick_signal 0 picks SIGRTMIN + 6. Throws std::system_error when the
  // signal handler cannot be installed.
  VcpuGate(std::vector<GateVcpu> vcpus, int kick_signal = 0, bool hold_at_start = false);
  ~VcpuGate();
  VcpuGate(const VcpuGate&) = delete;
  VcpuGate& operator=(const VcpuGate&) = delete;

  // --- VMM side, called on vCPU i's own thread ---------------------------
  void before_run(unsigned i);
  // `run_errno`: 0 when KVM_RUN returned 0, else its errno.
  bool on_exit(unsigned i, int run_errno);
  void thread_exited(unsigned i);

  // --- debugger side -----------------------------------------------------
  unsigned size() const { return static_cast<unsigned>(vcpus_.size()); }
  int fd(unsigned i) const { return vcpus_[i].fd; }
  int kick_signal() const { return signal_; }
  bool parked(unsigned i) const;
  // KVM_SET_GUEST_DEBUG with `debug` (breakpoints, watchpoints) on vCPU i,
  // kept across resumes; EBUSY while vCPU i is inside KVM_RUN.
  Status set_guest_debug(unsigned i, const GuestDebug& debug);
  // EBUSY unless the guest is stopped, ESRCH for a bad index, the errno of
  // KVM_SET_GUEST_DEBUG when arming a step fails.
  Status resume(std::span<const unsigned> step, bool others_run);
  void interrupt();
  std::optional<BackendStop> poll_stop();
  bool running() const;
  void set_stop_notifier(std::function<void()> notify);
  // Clears guest debug and lets every vCPU run (detach). Errors clearing
  // guest debug are returned after everything was released.
  Status release_all();

  // --- non-stop (vcpu_gate_nonstop.cpp): one vCPU at a time ----------------
  // set_non_stop(true) needs the guest stopped (EBUSY otherwise); then
  // stop_vcpu(i) holds and kicks vCPU i only, and its stop ({i,
  // Interrupted}, or the KVM_EXIT_DEBUG it took) is queued for poll_stop()
  // once its thread parks; resume_vcpu(i, step) releases it alone; a debug
  // exit holds only its own vCPU. set_non_stop(false) holds every vCPU and
  // waits (5 s at most) until all are parked: the guest is then stopped as
  // after interrupt(), with no stop pending. release_all() leaves non-stop.
  // In non-stop mode set_guest_debug() on a vCPU inside KVM_RUN kicks it
  // out (EINTR, no stop reported) and its own thread applies the settings
  // in before_run() before it re-enters: a hardware breakpoint or
  // watchpoint reaches a running vCPU at once.
  Status set_non_stop(bool on);
  Status stop_vcpu(unsigned i);
  Status resume_vcpu(unsigned i, bool step);
  bool vcpu_running(unsigned i) const;

 private:
  enum class State { NotStarted, InRun, Outside, Parked, Exited };
  struct Vcpu {
    int fd = -1;
    kvm_run* run = nullptr;
    pthread_t thread{};
    State state = State::NotStarted;
    bool hold = false;
    bool step_armed = false;               // KVM_SET_GUEST_DEBUG single-step is on
    GuestDebug debug;                      // breakpoints/watchpoints (set_guest_debug)
    bool debug_applied = false;            // KVM has a non-zero guest debug control
    bool needs_completion = false;         // last exit left an operation for KVM_RUN to finish
    bool ns_report = false;                // non-stop: report this vCPU's stop when it parks
    bool debug_dirty = false;              // non-stop: `debug` changed in KVM_RUN, applied at re-entry
    std::optional<BackendStop> ns_reason;  // non-stop: the debug exit it took
  };
  // Non-stop: vCPU i parked; queues its stop if one was asked for and
  // returns the notifier to run.
  std::function<void()> parked_nonstop_locked(unsigned i);

  void hold_all_locked();
  void kick_locked(Vcpu& v);
  // Completes the stop when every vCPU is parked; returns the notifier to
  // run (after unlocking) or an empty function.
  std::function<void()> complete_locked();
  // Applies vCPU i's `debug` plus single-step when `step`.
  Status apply_debug_locked(unsigned i, bool step);
  void run_notifier(std::unique_lock<std::mutex>& lock, std::function<void()> notify);

  std::vector<Vcpu> vcpus_;
  int signal_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = true;                // the debugger's view: released and not yet stopped
  bool stopping_ = false;              // a stop is being collected
  std::optional<BackendStop> reason_;  // set for steps/breakpoints
  std::optional<unsigned> first_parked_;
  std::optional<BackendStop> pending_;
  unsigned last_stop_vcpu_ = 0;
  std::function<void()> notify_;
  bool non_stop_ = false;
  std::deque<BackendStop> ns_stops_;
};

}  // namespace svedbg::kvm
