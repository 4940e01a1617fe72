// kvm::AttachBackend: the Backend of an unmodified, running KVM
// VMM, attached by pid with ptrace (arm64 only).
//
// Why ptrace: KVM refuses vCPU ioctls from any process but the VM's owner
// (EIO), so every KVM_GET/SET_ONE_REG and KVM_SET_GUEST_DEBUG is *injected*:
// run as a system call by one of the VMM's own stopped threads.
//
// Contract:
//  - attach(pid): finds the vCPU fds (/proc/PID/fd links
//    anon_inode:kvm-vcpu:N, served in ascending N as vCPUs 0..n-1), seizes
//    every thread (PTRACE_SEIZE, PTRACE_O_TRACECLONE so new threads are
//    traced too) and stops them (PTRACE_INTERRUPT). A vCPU thread inside
//    KVM_RUN leaves it with EINTR; the backend rewinds it (pc -= 4, x0 =
//    the vCPU fd) so the VMM re-enters KVM_RUN on resume and never sees the
//    EINTR. VLS is read once per vCPU and served from that copy (frozen by
//    finalization). The VMM is left stopped; detach() lets it run and
//    interrupt() stops it again (seizing anew), as GuestTarget does per gdb
//    client. Failures say why: no such pid, no ptrace rights (CAP_SYS_PTRACE,
//    /proc/sys/kernel/yama/ptrace_scope), already traced, not a KVM VMM.
//  - Injection: on a stopped thread, the registers (NT_PRSTATUS, and the
//    syscall number NT_ARM_SYSTEM_CALL) are saved, pc is pointed at an
//    `svc #0` of the VMM's own code, x8/x0..x5 set, the call is run, x0
//    read, and the registers restored. The call runs with PTRACE_SINGLESTEP
//    (one stop, a SIGTRAP right after the `svc`, never delivered) on a
//    thread whose SIGTRAP is neither blocked nor ignored (forcing one then
//    changes nothing), else with PTRACE_SYSCALL (entry, then exit stop);
//    a VMM signal arriving meanwhile is kept for the resume. Arguments
//    live in a scratch block 4 KiB below the thread's sp whose previous
//    bytes are put back after the call. Each call counts in
//    injected_syscalls() (`monitor attach` shows it).
//  - Batched reads (get_regs, kvm/attach/inject_batch.hpp): many KVM_GET_ONE_REG
//    in one trip into the VMM. A small loop that runs the ioctls of a table
//    and ends in `brk #0` is written (through /proc/PID/mem) into a code
//    cave found at attach: the bytes past the end of an executable ELF
//    segment of the VMM up to its page end, mapped but never run
//    (kvm/attach/code_cave.hpp); the table goes on the stack of one stopped
//    thread, below its sp, and those stack bytes are put back after the
//    trip. That thread (whose SIGTRAP is neither blocked nor ignored, so
//    the forced SIGTRAP changes nothing) runs the loop with PTRACE_CONT;
//    its SIGTRAP is taken and never delivered, a VMM signal arriving
//    meanwhile is kept for the resume, and the thread's registers are
//    restored exactly. A failing ioctl fails only its register. The cave's
//    own bytes are put back before the VMM runs again (resume(), detach(),
//    the destructor). No cave found (logged at attach), or a loop that
//    fails: one injected system call per register.
//    `monitor attach batch off|on` switches batching (for comparisons).
//    trips() counts every trip into the VMM (an injected call or a run of
//    the loop); `monitor attach` shows what register reads cost per stop.
//  - During a trip, svedbg's tracer thread and the VMM thread it injects
//    on are pinned to one CPU, so that a trip wakes nobody on another CPU
//    (`monitor attach colocate off|on`): the VMM thread for the trip only,
//    svedbg's thread until the VMM runs again; each gets its own CPU
//    affinity back.
//  - Memory: guest-physical ranges at the VMM's addresses, read and written
//    through /proc/PID/mem: the `memory` option (--mem GPA:SIZE[@HVA]; a
//    given HVA is checked against the VMM's mappings, a missing one is the
//    one mapping of exactly SIZE, as QEMU's -m RAM), else what the VMM's
//    mappings tell (svedbg-vmm names its guest RAM memfd
//    "svedbg-guest-ram@gpa=0x..."; kvm/proc_parse.hpp). No ranges: memory
//    accesses fail with EFAULT (and a hint).
//  - Run control (all-stop): resume() PTRACE_CONTs the threads (vCPU
//    threads not in `step` stay stopped unless others_run; other threads
//    always run). While any vCPU has guest debug on (breakpoints or a step
//    through KVM_SET_GUEST_DEBUG), vCPU threads run under PTRACE_SYSCALL:
//    a KVM_RUN that returns with exit_reason KVM_EXIT_DEBUG (read from the
//    vCPU's kvm_run mmap through /proc/PID/mem) is kept from the VMM (it is
//    rewound to re-enter KVM_RUN) and reported as the stop, the reason from
//    ESR_EL2.EC as in the in-process backend; every other exit goes to the
//    VMM. Signals to the VMM are passed on. A VMM that exits is reported
//    as StopReason::Exited (by every later poll_stop()); every later call
//    fails with ESRCH but resume(), which succeeds into that exit, so that
//    a VMM that died during a stop is heard as an exit stop reply too.
//  - Non-stop (vcpu_control(), attach_nonstop.cpp): set_non_stop(true)
//    from a stop lets the VMM's other threads run while every vCPU thread
//    stays stopped; resume_vcpu()/stop_vcpu() then run or stop one vCPU's
//    thread only (ThreadTracker non-stop), with its guest debug applied
//    (and single-step added) before it runs. Registers of a stopped vCPU
//    are read and written by injection through that vCPU's own thread;
//    those of a running one, and KVM_SET_GUEST_DEBUG on it, are refused
//    with EBUSY (its vCPU mutex is held by KVM_RUN: an injected ioctl
//    would wait for the guest's next exit). Its syscalls are traced, so a
//    debug exit stops only its own vCPU. The batch loop leaves the cave at
//    every resume_vcpu(). set_guest_debug() on a running vCPU
//    (debug_while_running()) stops its thread unreported, applies the
//    settings through it and lets it run on, so that a hardware breakpoint
//    or watchpoint reaches it at once. set_non_stop(false) stops every
//    thread.
//  - detach(): clears guest debug, lets every thread run on exactly as it
//    was (PTRACE_DETACH); the destructor does the same. If svedbg dies, the
//    kernel detaches the threads (no PTRACE_O_EXITKILL): a rewound KVM_RUN
//    re-enters as usual.
//  - vcpus_info(): each served vCPU as data (what `monitor attach` shows
//    as text): KVM id, the VMM's fd, the thread seen in its KVM_RUN, VLS,
//    and the effective vq from ZCR_EL1 (read, in one batch, only while the
//    VMM is stopped).
//  - Threading: every call must come from the thread that called attach()
//    (ptrace's rule); a helper thread only watches for stops (waitid
//    WNOWAIT) to run the stop notifier.
//
// The parts (kvm/attach/): attach_setup (the read-only steps of attach),
// ptrace_threads and stop_watcher (the threads' state machine), trip (one
// trip into the VMM), injected_calls (one ioctl per trip), batch_plan and
// batch_reader (many per trip), colocation, attach_stats (counters and the
// `monitor attach` text), attach_monitor.cpp (the monitor commands).
// AttachOptions, FaultHooks and AttachedVcpu compile everywhere; the
// backend itself on arm64 only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_options.hpp"
#include "kvm/attach/attach_setup.hpp"
#include "kvm/attach/attach_stats.hpp"
#include "kvm/backend.hpp"
#include "kvm/proc_parse.hpp"
#include "kvm/vls.hpp"

namespace svedbg::kvm {

struct AttachedVcpu {
  unsigned id = 0;                       // KVM vCPU id (kvm-vcpu:N)
  int fd = -1;                           // the VMM's fd for it
  pid_t thread = 0;                      // the VMM thread running it, 0 when unknown
  std::optional<VqSet> vls;              // nullopt: vCPU without SVE
  std::optional<unsigned> effective_vq;  // from ZCR_EL1; nullopt when not readable/no SVE
};

// One vCPU as vcpus_info() reports it; `zcr`: ZCR_EL1's value, nullopt
// when it was not read. The effective vq needs both VLS and ZCR_EL1.
AttachedVcpu attached_vcpu(const VmmVcpu& v, std::optional<pid_t> thread, std::optional<std::uint64_t> zcr);

}  // namespace svedbg::kvm

#if defined(__aarch64__)

namespace svedbg::kvm {

class AttachBackend final : public Backend, public RunControl, public VcpuRunControl {
 public:
  static Result<std::unique_ptr<AttachBackend>> attach(pid_t pid, AttachOptions options = {});
  ~AttachBackend() override;

  pid_t pid() const { return pid_; }
  // System calls the VMM ran for svedbg (all KVM ioctls).
  std::uint64_t injected_syscalls() const { return counters_.injected; }
  std::uint64_t kvm_ioctls() const { return counters_.kvm_ioctls; }
  // Trips into the VMM: injected system calls run one at a time, and runs
  // of the batch loop.
  std::uint64_t trips() const { return counters_.trips; }
  std::string describe() const;
  std::vector<AttachedVcpu> vcpus_info();  // reads ZCR_EL1 while stopped
  // What `monitor attach` shows, as data (format_attach_report renders it).
  AttachReport report() const;

  std::string name() const override { return "attach"; }
  unsigned vcpu_count() const override { return static_cast<unsigned>(vcpus_.size()); }
  // The VMM's own number for served vCPU i: its KVM vCPU id (kvm-vcpu:N),
  // which differs from i where the VMM's ids have gaps.
  unsigned vmm_index(unsigned vcpu) const override { return vcpu < vcpus_.size() ? vcpus_[vcpu].id : vcpu; }
  Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) override;
  void get_regs(std::span<RegRead> reads) override;
  bool batches_reads() const override;
  Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) override;
  Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) override;
  Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) override;
  std::vector<MemoryRange> memory_map() const override;
  Status set_guest_debug(unsigned vcpu, const GuestDebug& debug) override;
  DebugCaps debug_caps() const override { return caps_; }
  Status resume(std::span<const unsigned> step, bool others_run) override;
  void interrupt() override;
  std::optional<BackendStop> poll_stop() override;
  bool running() const override;
  void set_stop_notifier(std::function<void()> notify) override;
  RunControl* run_control() override { return this; }
  VcpuRunControl* vcpu_control() override { return this; }
  // Non-stop (attach_nonstop.cpp).
  Status set_non_stop(bool on) override;
  Status resume_vcpu(unsigned vcpu, bool step) override;
  Status stop_vcpu(unsigned vcpu) override;
  bool vcpu_running(unsigned vcpu) const override;
  bool debug_while_running() const override { return true; }
  // `monitor attach`, `attach batch on|off`, `attach colocate on|off`: all
  // report or tune svedbg, none changes the guest.
  void add_monitor_commands(MonitorRegistry& registry) override;
  Detached detach() override;
  void kill() override;

  struct Impl;  // the parts (attach_impl.hpp)

 private:
  AttachBackend(pid_t pid, AttachOptions options);
  void log(const std::string& line) const;
  LogFn logger() const {
    return [this](const std::string& line) { log(line); };
  }
  // The steps of attach(), in order.
  Status seize();
  Status find_code_sites(const std::vector<MapEntry>& maps);
  Status read_vls();
  Status check_vcpu(unsigned vcpu) const;  // ESRCH: no such vCPU; non-stop: EBUSY while it runs
  Status set_guest_debug_running(unsigned vcpu, const GuestDebug& debug);  // non-stop, vCPU running

  pid_t pid_;
  AttachOptions options_;
  std::vector<VmmVcpu> vcpus_;
  std::vector<RamRange> memory_;
  DebugCaps caps_;
  AttachCounters counters_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace svedbg::kvm

#endif  // __aarch64__
