// introspect::Backend: one vCPU provider, spoken in KVM terms.
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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svedbg::introspect {

enum class StopReason { Interrupted, Stepped, Breakpoint, Exited };

// One range of guest RAM (guest-physical), as the VMM registered it.
struct MemoryRange {
  std::uint64_t gpa = 0;
  std::uint64_t size = 0;
};

struct BackendStop {
  unsigned vcpu = 0;  // 0-based index of the vCPU that reported the stop
  StopReason reason = StopReason::Interrupted;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "sim", "kvm", "core", for logs
  virtual unsigned vcpu_count() const = 0;

  // KVM_GET_ONE_REG / KVM_SET_ONE_REG on vCPU `vcpu` (0-based).
  virtual Status get_one_reg(unsigned vcpu, std::uint64_t id, std::span<std::byte> out) = 0;
  virtual Status set_one_reg(unsigned vcpu, std::uint64_t id, std::span<const std::byte> in) = 0;

  // Guest-physical memory. A short read stops at the first unmapped byte;
  // an error means nothing at `gpa` is readable.
  virtual Result<std::size_t> read_phys(std::uint64_t gpa, std::span<std::byte> out) = 0;
  virtual Result<std::size_t> write_phys(std::uint64_t gpa, std::span<const std::byte> in) = 0;
  // The guest's RAM ranges, ascending and disjoint (what a memory dump
  // covers). Empty when the backend cannot tell.
  virtual std::vector<MemoryRange> memory_map() const { return {}; }

  // Run control. All-stop: resume() restarts every vCPU; vCPUs listed in
  // `step` execute one instruction and stop, the others run (or stay stopped
  // when `others_run` is false). interrupt() asks all vCPUs to stop;
  // poll_stop() returns a stop once every vCPU is stopped.
  virtual Status resume(std::span<const unsigned> step, bool others_run) = 0;
  virtual void interrupt() = 0;
  virtual std::optional<BackendStop> poll_stop() = 0;
  // True while any vCPU runs (a stop may still be pending in poll_stop()).
  virtual bool running() const = 0;
  virtual void set_stop_notifier(std::function<void()> notify) = 0;

  // Backend-specific `monitor` commands (e.g. "sim set-vl 1 512"); nullopt
  // when the command is not one of this backend's.
  virtual std::optional<Result<std::string>> monitor(std::string_view command) = 0;
  virtual std::string monitor_help() const = 0;

  // gdb detached / killed. Detach resumes the guest as it was.
  virtual void detach() = 0;
  virtual void kill() = 0;
};

}  // namespace svedbg::introspect
