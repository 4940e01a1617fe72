// kvm/attach/ptrace_threads: every thread of an attached VMM under ptrace,
// the all-stop state machine over them, and what each stopped thread can
// be used for (arm64 only).
//
// Contract:
//  - seize_and_stop() seizes every thread (PTRACE_SEIZE with
//    PTRACE_O_TRACECLONE, so new threads are traced too, and
//    PTRACE_O_TRACESYSGOOD) and stops them (PTRACE_INTERRUPT). A thread
//    leaving an interrupted KVM_RUN (x0 = -EINTR, x1 = KVM_RUN, x8 = ioctl,
//    `svc #0` before pc) must be matched with its vCPU and rewound (pc -=
//    4, x0 = the vCPU fd), so that the VMM re-enters KVM_RUN on resume and
//    never sees the EINTR. So threads whose vCPU fd is known (learned at an
//    earlier stop: threads keep their vCPU across detach and re-attach, or
//    /proc shows them blocked in KVM_RUN on it) and threads not inside
//    KVM_RUN are interrupted all at once; only those that run on an
//    unknown vCPU are stopped one at a time after them (each is then the
//    one unclaimed vCPU whose kvm_run says KVM_EXIT_INTR). A gdb client's
//    stop of a VMM svedbg attached before is therefore one parallel stop.
//    seize_and_begin_stop() does not wait (pump() completes the stop).
//    last_stop_time() is how long the last all-stop took.
//  - pump() takes every waitpid() event and moves the state: Stopping
//    becomes Stopped once every thread is in a ptrace stop (pending() then
//    holds the stop: a debug exit seen, else Interrupted on the first vCPU
//    thread seen stopped). While Running under PTRACE_SYSCALL, a KVM_RUN
//    returning KVM_EXIT_DEBUG (kvm_run.exit_reason through /proc/PID/mem)
//    is rewound, kept from the VMM and stops everyone; every other event
//    lets the thread run on (signals passed on). The VMM's exit (its
//    leader's, or its last thread's) is state Exited, a pending Exited
//    stop and the on_exit callback.
//  - wait_trip() waits for the next event of the one thread a trip runs;
//    other threads can only die meanwhile (their exits are reaped: the
//    kernel reports a dying group's leader only after its tracer reaped
//    every other thread, kernel/exit.c delay_group_leader); any other
//    event is kept for pump().
//  - resume() PTRACE_CONTs (or PTRACE_SYSCALLs, with guest debug on) the
//    threads; vCPU threads not in `step` stay stopped (held) unless
//    others_run. detach_threads() PTRACE_DETACHes the stopped threads,
//    handing back each one's pending signal.
//  - Per stop (until a thread stops anew): injection_threads(), the
//    threads an injected call may use, best first; saved_of(), a thread's
//    registers at its stop (every trip restores exactly these);
//    trap_safe(), whether the kernel may force a SIGTRAP on it.
//  - Non-stop (ptrace_threads_nonstop.cpp): enter_non_stop() from Stopped
//    lets every thread but the vCPU threads run (state Running, syscalls
//    traced so that KVM_EXIT_DEBUG is seen and each vCPU thread is known);
//    resume_vcpu()/stop_vcpu() run or stop (PTRACE_INTERRUPT) only that
//    vCPU's thread, rewound out of KVM_RUN as in all-stop; each vCPU's stop
//    (Interrupted, or its own debug exit, which stops nobody else) is
//    queued for take_pending(). check_stopped() then holds while any
//    thread is stopped (injection uses the stopped ones only).
//    leave_non_stop() stops every thread (state Stopped) and drops the
//    queue.
//  - Threading: every member must be called from the tracer thread (the
//    one that called seize_and_stop()); the StopWatcher is armed while the
//    VMM runs.
#pragma once

#if defined(__aarch64__)

#include <asm/ptrace.h>
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_options.hpp"
#include "kvm/attach/attach_setup.hpp"
#include "kvm/attach/stop_watcher.hpp"
#include "kvm/attach/vmm_proc.hpp"
#include "kvm/backend.hpp"

namespace svedbg::kvm {

class ThreadTracker {
 public:
  enum class State { Detached, Stopping, Stopped, Running, Exited };
  enum class Stop { Running, Event, SyscallEntry, SyscallExit, Signal };
  struct Thread {
    Stop stop = Stop::Running;
    int pending_sig = 0;
    bool entry_kvm_run = false;  // last syscall entry was KVM_RUN
    bool held = false;           // kept stopped by resume() (not in `step`)
    bool serial = false;         // to be stopped alone (seize_and_begin_stop)
    bool serial_sent = false;    // its PTRACE_INTERRUPT went out
  };
  // A thread's registers at its stop: NT_PRSTATUS and the syscall number
  // (NT_ARM_SYSTEM_CALL, which the kernel's restart logic reads).
  struct Saved {
    user_pt_regs regs{};
    int nr = -1;
    bool have_nr = false;
  };

  ThreadTracker(pid_t pid, const std::vector<VmmVcpu>& vcpus, const VmmMemory& mem, StopWatcher& watcher, LogFn log,
                std::function<void()> on_exit);

  State state() const { return state_; }
  Status check_stopped() const;  // EBUSY running, ESRCH exited
  pid_t tracer() const { return tracer_; }
  std::size_t thread_count() const { return threads_.size(); }
  Thread* thread(pid_t tid);
  std::optional<pid_t> thread_of_fd(int fd) const;  // the thread last seen in KVM_RUN on it

  Status seize_and_stop();
  // The same without waiting: the stop completes in pump() (state
  // Stopping until every thread stopped).
  Status seize_and_begin_stop();
  void pump();
  bool wait_trip(pid_t tid, int& st);
  void begin_stop();  // interrupts every running thread
  // Running or Stopping: stops everyone; false when not all stopped in `ms`.
  bool stop_all(int ms);
  void resume(std::span<const unsigned> step, bool others_run, bool trace_syscalls);
  void detach_threads();

  std::optional<BackendStop> take_pending();
  void set_pending(std::optional<BackendStop> s) { pending_ = s; }
  std::optional<unsigned> first_vcpu() const { return first_vcpu_; }
  void new_stop();  // the VMM runs again: per-stop thread state is forgotten
  // How long the last all-stop took, from the first PTRACE_INTERRUPT to
  // the last thread's stop (nullopt before the first one completes).
  std::optional<std::chrono::nanoseconds> last_stop_time() const { return last_stop_time_; }

  // Non-stop (ptrace_threads_nonstop.cpp).
  bool non_stop() const { return non_stop_; }
  Status enter_non_stop();
  Status leave_non_stop(int ms);
  Status resume_vcpu(unsigned v);
  Status stop_vcpu(unsigned v);
  bool vcpu_running(unsigned v) const;
  Status check_vcpu_stopped(unsigned v) const;  // EBUSY while its thread runs
  // Non-stop: trips for vCPU v's ioctls go through v's own thread when it
  // is a candidate (first in injection_threads()).
  void prefer_vcpu(unsigned v);
  // Stops running vCPU v's thread without reporting it (to change its
  // guest debug), within `ms`; then resume_vcpu() lets it go, unless
  // stop_owed(v): a stop of its own was asked or came meanwhile.
  Status pause_vcpu(unsigned v, int ms);
  bool stop_owed(unsigned v) const;

  std::vector<pid_t> injection_threads();
  Result<Saved> saved_of(pid_t tid);
  static void restore(pid_t tid, Saved& sv);
  bool trap_safe(pid_t tid);
  static bool get_regs(pid_t tid, user_pt_regs& r);
  static bool set_regs(pid_t tid, const user_pt_regs& r);

 private:
  std::optional<unsigned> vcpu_of_fd(int fd) const;
  std::optional<unsigned> vcpu_of_thread(pid_t tid) const;
  std::optional<std::uint32_t> exit_reason(unsigned v) const;
  std::optional<int> vcpu_fd_in_eintr(pid_t tid) const;
  void next_serial();
  void maybe_rewind(pid_t tid, int fd);
  bool all_stopped() const;
  void cont(pid_t tid, Thread& t);
  void mark_stopped(pid_t tid, Thread& t, Stop how);
  void run_on_or_stop(pid_t tid, Thread& t, bool run_on, Stop how);
  void complete_if_stopped();
  void on_exited(pid_t tid);
  void handle(pid_t tid, int st);
  void on_syscall_stop(pid_t tid, Thread& t, bool run_on);
  void on_debug_exit(pid_t tid, Thread& t, unsigned v, int fd);
  bool dispatch(pid_t tid, int st);
  Status seize_all();
  template <typename Pred>
  bool wait_until(Pred pred, int ms);
  void forget_thread_state();
  std::optional<pid_t> thread_of_vcpu(unsigned v) const;
  void collect_vcpu_stops();

  pid_t pid_;
  const std::vector<VmmVcpu>& vcpus_;
  const VmmMemory& mem_;
  StopWatcher& watcher_;
  LogFn log_;
  std::function<void()> on_exit_;

  pid_t tracer_ = 0;
  State state_ = State::Detached;
  std::map<pid_t, Thread> threads_;
  std::map<pid_t, int> thread_fd_;  // learned: thread -> vCPU fd it runs KVM_RUN on
  bool trace_syscalls_ = false;
  std::optional<BackendStop> reason_;            // debug exit that started a stop
  std::optional<BackendStop> pending_;           // completed stop for poll_stop()
  std::optional<unsigned> first_vcpu_;           // first vCPU thread seen stopped
  std::vector<std::pair<pid_t, int>> deferred_;  // events wait_trip() kept for pump()
  std::deque<pid_t> serial_;                     // threads stopped one at a time, in order

  std::chrono::steady_clock::time_point stop_began_{};
  std::optional<std::chrono::nanoseconds> last_stop_time_;

  bool non_stop_ = false;
  std::vector<bool> ns_wanted_;       // non-stop: vCPU v's stop was asked, not yet seen
  std::deque<BackendStop> ns_stops_;  // non-stop: stops for take_pending(), in order

  std::optional<pid_t> preferred_;  // prefer_vcpu()'s thread

  std::optional<std::vector<pid_t>> inject_candidates_;
  std::map<pid_t, Saved> saved_regs_;
  std::map<pid_t, bool> trap_ok_;
};

}  // namespace svedbg::kvm

#endif  // __aarch64__
