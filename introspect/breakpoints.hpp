// introspect::Breakpoints: gdb's Z/z requests turned into guest state.
//
// Contract: software breakpoints are BRK #0 instructions written into guest
// memory (the original 4 bytes kept and written back on removal and on
// remove_all()) plus KVM_GUESTDBG_USE_SW_BP so the BRK exits to the debugger
// instead of trapping in the guest. Hardware breakpoints and watchpoints
// occupy DBGBCR/DBGBVR and DBGWCR/DBGWVR slots, as many as the host offers
// (DebugCaps, at most KVM_ARM_MAX_DBG_REGS each), passed to
// KVM_SET_GUEST_DEBUG. Resources are capped like gdbserver's: at most
// kMaxSoftware software breakpoints (ENOSPC past it, as for a full set of
// hardware slots), kept in one sorted array that gives its memory back once
// most of it is free. guest_debug() is the
// kvm_guest_debug every vCPU gets (identical on all); classify() turns a
// KVM_EXIT_DEBUG (ESR/FAR) into gdb's stop reason. Memory goes through the
// callbacks so the caller decides how addresses are translated. Arm ARM
// (DDI 0487) D2.8-D2.10 and the DBGBCR/DBGWCR_EL1 register descriptions.
#pragma once

#include <cstdint>
#include <functional>
#include <array>
#include <optional>
#include <span>
#include <vector>

#include "gdbstub/target.hpp"
#include "kvm/backend.hpp"

namespace svedbg::introspect {

using gdbstub::Bytes;

class Breakpoints {
 public:
  using ReadMemory = std::function<Result<Bytes>(std::uint64_t addr, std::size_t len)>;
  using WriteMemory = std::function<Status(std::uint64_t addr, std::span<const std::byte> data)>;

  static constexpr std::uint32_t kBrk0 = 0xd4200000;  // BRK #0, what gdb uses on AArch64

  // Software breakpoints held at once.
  static constexpr std::size_t kMaxSoftware = 4096;

  explicit Breakpoints(kvm::DebugCaps caps);

  Status insert(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind, const ReadMemory& read,
                const WriteMemory& write);
  Status remove(gdbstub::BreakpointType type, std::uint64_t addr, std::uint64_t kind, const WriteMemory& write);
  // Every software breakpoint's bytes written back, every slot freed.
  Status remove_all(const WriteMemory& write);
  bool empty() const { return sw_.empty() && hw_.empty() && wp_.empty(); }
  std::size_t software_count() const { return sw_.size(); }
  // Software breakpoint entries the store has room for (tests: removal frees).
  std::size_t software_capacity() const { return sw_.capacity(); }

  // The KVM_SET_GUEST_DEBUG argument for the current set (control 0 when
  // nothing is set: guest debug off).
  kvm::GuestDebug guest_debug() const;
  // gdb's view of a debug stop of the vCPU whose pc is `pc`.
  gdbstub::StopEvent classify(const kvm::BackendStop& stop, std::uint64_t pc) const;

  // Register values, exposed for tests.
  static std::uint64_t bcr_for_address();
  static Result<std::pair<std::uint64_t, std::uint64_t>> wcr_wvr_for(gdbstub::BreakpointType type, std::uint64_t addr,
                                                                     std::uint64_t len);

 private:
  struct Watch {
    gdbstub::BreakpointType type;
    std::uint64_t addr;
    std::uint64_t len;
    std::uint64_t wcr;
    std::uint64_t wvr;
  };
  struct Soft {
    std::uint64_t addr;
    std::array<std::byte, 4> original;  // the instruction BRK replaced
  };
  std::vector<Soft>::iterator find_sw(std::uint64_t addr);
  bool has_sw(std::uint64_t addr) const;
  void erase_sw(std::vector<Soft>::iterator it);

  kvm::DebugCaps caps_;
  std::vector<Soft> sw_;           // sorted by address
  std::vector<std::uint64_t> hw_;  // hardware breakpoint addresses, one slot each
  std::vector<Watch> wp_;          // one slot each
};

}  // namespace svedbg::introspect
