// Backend: one vCPU provider, spoken in KVM terms.
//
// Contract: registers are accessed exactly as with KVM_GET_ONE_REG /
// KVM_SET_ONE_REG: by 64-bit KVM register ID, with a buffer whose size is
// kvm::reg_size(id), and with KVM's errno semantics (EPERM for SVE registers
// before finalization and for VLS writes after it, ENOENT for SVE IDs on a
// vCPU without SVE, EINVAL for bad sizes/IDs). Memory is guest-physical.
// Implementations: the simulated guest (introspect/sim_backend), in-process
// KVM and attach-by-pid (kvm/), core files. Register reads are only valid
// while the vCPUs are stopped; the Target above guarantees that.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/detached.hpp"
#include "common/monitor.hpp"
#include "common/result.hpp"

namespace svedbg::kvm {

// Interrupted: interrupt() stopped it. Stepped/Breakpoint/Watchpoint: a
// KVM_EXIT_DEBUG; `esr` and `far` are kvm_debug_exit_arch's hsr and far
// (ESR_ELx.EC tells BRK 0x3c, hardware breakpoint 0x30/0x31, software step
// 0x32/0x33, watchpoint 0x34/0x35). Exited: the guest or the VMM is gone.
enum class StopReason { Interrupted, Stepped, Breakpoint, Watchpoint, Exited };

// One range of guest RAM (guest-physical), as the VMM registered it.
struct MemoryRange {
  std::uint64_t gpa = 0;
  std::uint64_t size = 0;
};

struct BackendStop {
  unsigned vcpu = 0;  // 0-based index of the vCPU that reported the stop
  StopReason reason = StopReason::Interrupted;
  std::uint64_t esr = 0;
  std::uint64_t far = 0;
};

// KVM_SET_GUEST_DEBUG's argument for arm64 (api.rst "KVM_SET_GUEST_DEBUG";
// struct kvm_guest_debug with struct kvm_guest_debug_arch): control flags and
// the hardware breakpoint/watchpoint registers DBGBCR/DBGBVR/DBGWCR/DBGWVR.
struct GuestDebug {
  static constexpr std::uint32_t kEnable = 0x1;        // KVM_GUESTDBG_ENABLE
  static constexpr std::uint32_t kSingleStep = 0x2;    // KVM_GUESTDBG_SINGLESTEP
  static constexpr std::uint32_t kUseSwBp = 1u << 16;  // KVM_GUESTDBG_USE_SW_BP
  static constexpr std::uint32_t kUseHw = 1u << 17;    // KVM_GUESTDBG_USE_HW
  static constexpr unsigned kMaxHw = 16;               // KVM_ARM_MAX_DBG_REGS
  std::uint32_t control = 0;
  std::array<std::uint64_t, kMaxHw> bcr{}, bvr{}, wcr{}, wvr{};
  bool operator==(const GuestDebug&) const = default;
};

// What the host offers (KVM_CAP_GUEST_DEBUG_HW_BPS / _WPS).
struct DebugCaps {
  bool guest_debug = false;  // set_guest_debug() works at all
  unsigned hw_breakpoints = 0;
  unsigned hw_watchpoints = 0;
};

// Per-vCPU run control, an optional capability of a RunControl
// (RunControl::vcpu_control()), for gdb's non-stop mode: one vCPU stops
// while the others run. set_non_stop(true) needs every vCPU stopped (EBUSY
// otherwise); from then on RunControl::resume()/interrupt() are not used,
// poll_stop() returns each vCPU's stop as it happens (the notifier fires
// for each), running() is true while any vCPU runs, and only a running
// vCPU's registers are refused (EBUSY): the stopped ones are read and
// written as in all-stop, while the others run. set_non_stop(false) stops
// every vCPU still running and drops stops not yet polled.
class VcpuRunControl {
 public:
  virtual ~VcpuRunControl() = default;
  virtual Status set_non_stop(bool on) = 0;
  // Resumes one stopped vCPU; `step` executes one instruction, reported as
  // Stepped (or the breakpoint it hit). EBUSY if it runs, ESRCH if no such
  // vCPU.
  virtual Status resume_vcpu(unsigned vcpu, bool step) = 0;
  // Asks one running vCPU to stop; poll_stop() then reports it
  // (Interrupted, unless a debug exit came first). Nothing for a stopped one.
  virtual Status stop_vcpu(unsigned vcpu) = 0;
  virtual bool vcpu_running(unsigned vcpu) const = 0;
  // True when RunControl::set_guest_debug() also takes effect at once on a
  // running vCPU in non-stop mode (the backend takes it out of the guest,
  // applies the settings and lets it run on, with no stop reported); false:
  // a running vCPU gets them when next resumed.
  virtual bool debug_while_running() const { return false; }
};

// A backend's run control (all-stop). resume() restarts every vCPU; vCPUs
// listed in `step` execute one instruction and stop, the others run (or
// stay stopped when `others_run` is false). interrupt() asks all vCPUs to
// stop; poll_stop() returns a stop once every vCPU is stopped. Breakpoints
// and watchpoints go through set_guest_debug() (KVM_SET_GUEST_DEBUG on one
// vCPU; single-stepping for resume(step, ...) is the backend's own business
// and is added on top of `debug`).
class RunControl {
 public:
  virtual ~RunControl() = default;

  virtual Status resume(std::span<const unsigned> step, bool others_run) = 0;
  virtual void interrupt() = 0;
  virtual std::optional<BackendStop> poll_stop() = 0;
  // True while any vCPU runs (a stop may still be pending in poll_stop()).
  virtual bool running() const = 0;
  // Called (from any thread) when a stop becomes available to poll_stop().
  virtual void set_stop_notifier(std::function<void()> notify) = 0;

  // What the host offers; set_guest_debug() fails with ENOSYS when
  // guest_debug is false.
  virtual DebugCaps debug_caps() const = 0;
  virtual Status set_guest_debug(unsigned vcpu, const GuestDebug& debug) = 0;

  // gdb's `kill`: the backend decides what that means for its guest.
  virtual void kill() = 0;

  // Per-vCPU run control (non-stop), or nullptr when the backend has none.
  virtual VcpuRunControl* vcpu_control() { return nullptr; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "sim", "kvm", "core", for logs
  virtual unsigned vcpu_count() const = 0;
  // The VMM's own index of vCPU `vcpu` (< vcpu_count()), which is what
  // users call it (`--vcpus`, dumps, gdb's thread names): `vcpu` itself
  // unless the backend serves only some of the VMM's vCPUs.
  virtual unsigned vmm_index(unsigned vcpu) const { return vcpu; }

  // KVM_GET_ONE_REG / KVM_SET_ONE_REG on vCPU `vcpu` (0-based).
  virtual Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) = 0;
  virtual Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) = 0;

  // Many KVM_GET_ONE_REG at once: each read's `out` (kvm::reg_size(id)
  // bytes) receives its register and `status` says how that one went, with
  // get_one_reg's errors; one failing register does not fail the others.
  // Same result as get_one_reg on each, which is the default. A backend
  // for which every call is expensive (attach: a ptrace trip into the VMM)
  // does them all in as few trips as it can.
  struct RegRead {
    unsigned vcpu = 0;
    std::uint64_t id = 0;
    std::span<std::byte> out;
    Status status;
  };
  virtual void get_regs(std::span<RegRead> reads) {
    for (auto& r : reads) r.status = get_one_reg(r.vcpu, r.id, r.out);
  }
  // True when get_regs() of many registers costs about what one
  // get_one_reg() does, so that reading ahead registers a client is about
  // to ask for (gdb reads every SVE register once it reads one) saves
  // time; false when each register costs the same however it is asked for.
  virtual bool batches_reads() const { return false; }

  // Guest-physical memory. A short read stops at the first unmapped byte;
  // an error means nothing at `gpa` is readable.
  virtual Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) = 0;
  virtual Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) = 0;
  // The guest's RAM ranges, ascending and disjoint (what a memory dump
  // covers). Empty when the backend cannot tell.
  virtual std::vector<MemoryRange> memory_map() const { return {}; }

  // Run control, an optional capability: the backend of a guest that can
  // run (sim, in-process, attach) returns its RunControl; one that never
  // runs (a core file) returns nullptr and offers no run control at all.
  virtual RunControl* run_control() { return nullptr; }

  // The backend's own `monitor` commands (e.g. "sim set-vl"), added to the
  // target's registry (common/monitor.hpp); each says whether it may change
  // guest state. Default: none.
  virtual void add_monitor_commands(MonitorRegistry& registry) { (void)registry; }

  // gdb detached or dropped: a backend that runs resumes the guest as it was
  // and says what became of it (for the log: a drop must not claim a dead
  // VMM resumed); one that never runs says NeverRuns.
  virtual Detached detach() = 0;
};

}  // namespace svedbg::kvm
