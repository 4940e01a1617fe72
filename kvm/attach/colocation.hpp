// kvm/attach/colocation: svedbg's tracer thread and the VMM thread of a trip
// share one CPU.
//
// Why: a trip wakes the stopped VMM thread and waits for it to stop again.
// Were the two on different CPUs, each trip would take two cross-CPU
// wake-ups, each an IPI to a possibly idle CPU (on nested KVM under TCG,
// waking a halted vCPU thread of QEMU: milliseconds on a busy host).
//
// Contract: pin(tid) pins the calling (tracer) thread to the CPU it is on,
// once per stop, and the VMM thread `tid` to that CPU; release(tid) gives
// the VMM thread its own affinity back (after each trip, so that no VMM
// thread is left pinned should svedbg die between trips); end() releases
// every pinned thread and gives the tracer its own affinity back (when the
// VMM runs again, at detach, at its exit). A thread that may not run on
// that CPU (its own mask, a cpuset) is left alone; any failing affinity
// call leaves things as they were. Disabled (`monitor attach colocate
// off`): pin() does nothing. Guard pins for its lifetime. The affinity
// system calls come through AffinityOps, so that tests can fake them.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace svedbg::kvm {

struct AffinityOps {
  std::function<int()> current_cpu;                  // sched_getcpu(): < 0 unknown
  std::function<bool(pid_t, cpu_set_t&)> get;        // sched_getaffinity (tid 0: the caller)
  std::function<bool(pid_t, const cpu_set_t&)> set;  // sched_setaffinity; false sets errno
  static AffinityOps system();
};

class Colocation {
 public:
  explicit Colocation(std::function<void(const std::string&)> log, AffinityOps ops = AffinityOps::system());
  ~Colocation() { end(); }
  Colocation(const Colocation&) = delete;
  Colocation& operator=(const Colocation&) = delete;

  bool enabled() const { return enabled_; }
  void set_enabled(bool on);        // off: end()s too
  int cpu() const { return cpu_; }  // the CPU of this stop, -1: none yet
  void pin(pid_t tid);
  void release(pid_t tid);
  void end();

  class Guard {
   public:
    Guard(Colocation& c, pid_t tid) : c_(c), tid_(tid) { c_.pin(tid_); }
    ~Guard() { c_.release(tid_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    Colocation& c_;
    pid_t tid_;
  };

 private:
  bool pin_tracer();

  std::function<void(const std::string&)> log_;
  AffinityOps ops_;
  bool enabled_ = true;
  int cpu_ = -1;
  std::optional<cpu_set_t> tracer_affinity_;  // ours, before pinning
  std::map<pid_t, cpu_set_t> pinned_;         // VMM threads pinned now, with their affinity
};

}  // namespace svedbg::kvm
