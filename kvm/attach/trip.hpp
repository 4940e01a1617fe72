// kvm/attach/trip: one trip into a stopped VMM: a thread of the VMM runs
// code for svedbg (an injected system call, or the batch loop) and stops
// again with everything as it was (arm64 only).
//
// Contract: a Trip is a guard. Constructed, it picks the thread (Call: the
// first of ThreadTracker::injection_threads(); Loop: the first of them
// whose SIGTRAP is safe to force, trap_safe()), pins it beside the tracer
// (Colocation) and takes its registers at its stop (saved()); status()
// says why it could not (the VMM not stopped, no such thread). Then
// write_scratch() puts bytes in the VMM (the old ones are kept), and
// run_call() / run_loop() set the registers, run the thread and wait for it
// to stop where it must. Destroyed, it puts the scratch bytes and the
// registers back exactly, makes the thread's stop an event stop if it was
// one and a syscall-exit stop otherwise (the kernel's restart logic then
// sees the registers of its stop), and unpins it; not when the VMM died
// during the run (ESRCH). Each completed run counts as one trip. A VMM
// signal arriving during the run is kept for the resume, never delivered
// now.
//
// run_call(svc, regs): pc = svc, an `svc #0` of the VMM's own code. Where
// the thread's SIGTRAP is safe, PTRACE_SINGLESTEP: the thread stops right
// after the call, at svc + 4, with a SIGTRAP (arm64 reports a step over a
// system call at its exit, before returning to user space), taken and
// never delivered; a VMM signal stops it at svc (before the call) or, queued
// beside the SIGTRAP, at svc + 4; it never steps past svc + 4. Otherwise
// PTRACE_SYSCALL: its entry and exit stops. Returns x0.
// run_loop(cave, regs, hooks, n): PTRACE_CONT until the loop's `brk #0` at
// cave + batch::kBrkOffset stops it with a kernel SIGTRAP; a fault inside
// the loop is EFAULT. hooks.batch_started(vmm, n) runs once the thread runs.
#pragma once

#if defined(__aarch64__)

#include <asm/ptrace.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_options.hpp"
#include "kvm/attach/attach_stats.hpp"
#include "kvm/attach/colocation.hpp"
#include "kvm/attach/ptrace_threads.hpp"
#include "kvm/attach/vmm_proc.hpp"

namespace svedbg::kvm {

// What a trip uses, owned by the backend.
struct TripParts {
  pid_t pid;
  ThreadTracker& threads;
  Colocation& colocation;
  const VmmMemory& mem;
  AttachCounters& counters;
  StopCostMeter& cost;
};

class Trip {
 public:
  enum class Kind { Call, Loop };
  Trip(const TripParts& parts, Kind kind);
  ~Trip();
  Trip(const Trip&) = delete;
  Trip& operator=(const Trip&) = delete;

  const Status& status() const { return status_; }
  pid_t thread() const { return tid_; }
  const user_pt_regs& saved() const { return saved_.regs; }

  enum class Scratch { Written, Unreadable, Unwritable };
  Scratch write_scratch(std::uint64_t addr, std::span<const std::byte> bytes);
  bool read(std::uint64_t addr, std::span<std::byte> out) const;
  Result<long> run_call(std::uint64_t svc, const user_pt_regs& regs);
  Status run_loop(std::uint64_t cave, const user_pt_regs& regs, const FaultHooks& hooks, std::uint64_t batch);

 private:
  Status set_regs(const user_pt_regs& regs);
  Result<bool> on_step_stop(std::uint64_t svc, int sig, long& rval);
  void keep_signal(int sig);
  void finished();

  TripParts parts_;
  Status status_;
  pid_t tid_ = 0;
  ThreadTracker::Stop was_ = ThreadTracker::Stop::Event;
  ThreadTracker::Saved saved_;
  std::optional<Colocation::Guard> pinned_;
  std::uint64_t scratch_ = 0;
  std::vector<std::byte> scratch_old_;  // put back at scratch_
  bool regs_changed_ = false;
  bool ran_ = false;
  bool gone_ = false;  // the VMM died during the run
};

}  // namespace svedbg::kvm

#endif  // __aarch64__
