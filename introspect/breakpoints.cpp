#include "introspect/breakpoints.hpp"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

namespace svedbg::introspect {

using gdbstub::BreakpointType;
using gdbstub::Signal;
using gdbstub::StopEvent;
using GdbReason = gdbstub::StopReason;

namespace {

// ESR_ELx.EC values of debug exceptions taken to EL2 from the guest (Arm ARM
// D17.2.37 "ESR_EL2"): KVM reports them in kvm_debug_exit_arch.hsr.
constexpr unsigned kEcHwBreakLower = 0x30, kEcHwBreakCurrent = 0x31;
constexpr unsigned kEcStepLower = 0x32, kEcStepCurrent = 0x33;
constexpr unsigned kEcWatchLower = 0x34, kEcWatchCurrent = 0x35;
constexpr unsigned kEcBrk64 = 0x3c;

unsigned ec_of(std::uint64_t esr) { return static_cast<unsigned>((esr >> 26) & 0x3f); }

Bytes le32(std::uint32_t v) {
  return {std::byte(v & 0xff), std::byte((v >> 8) & 0xff), std::byte((v >> 16) & 0xff), std::byte(v >> 24)};
}

}  // namespace

Breakpoints::Breakpoints(kvm::DebugCaps caps) : caps_(caps) {
  // guest_debug() has room for KVM_ARM_MAX_DBG_REGS of each.
  caps_.hw_breakpoints = std::min(caps_.hw_breakpoints, kvm::GuestDebug::kMaxHw);
  caps_.hw_watchpoints = std::min(caps_.hw_watchpoints, kvm::GuestDebug::kMaxHw);
}

std::vector<Breakpoints::Soft>::iterator Breakpoints::find_sw(std::uint64_t addr) {
  auto it = std::lower_bound(sw_.begin(), sw_.end(), addr, [](const Soft& s, std::uint64_t a) { return s.addr < a; });
  return it != sw_.end() && it->addr == addr ? it : sw_.end();
}

bool Breakpoints::has_sw(std::uint64_t addr) const {
  return std::binary_search(sw_.begin(), sw_.end(), Soft{addr, {}},
                            [](const Soft& a, const Soft& b) { return a.addr < b.addr; });
}

void Breakpoints::erase_sw(std::vector<Soft>::iterator it) {
  sw_.erase(it);
  // Give the memory back once three quarters of it are free (amortised:
  // the next growth doubles again).
  if (sw_.size() <= sw_.capacity() / 4) sw_.shrink_to_fit();
}

std::uint64_t Breakpoints::bcr_for_address() {
  // DBGBCR<n>_EL1: E (bit 0) enabled; PMC (bits 2:1) = 0b11, match at EL1
  // and EL0; BAS (bits 8:5) = 0b1111, the whole A64 instruction; BT = 0b0000,
  // unlinked instruction address match; HMC = SSC = 0.
  return 0x1 | (0x3u << 1) | (0xfu << 5);
}

Result<std::pair<std::uint64_t, std::uint64_t>> Breakpoints::wcr_wvr_for(BreakpointType type, std::uint64_t addr,
                                                                         std::uint64_t len) {
  // DBGWCR<n>_EL1: E (bit 0); PAC (bits 2:1) = 0b11, EL1 and EL0; LSC (bits
  // 4:3): 0b01 loads, 0b10 stores, 0b11 both; BAS (bits 12:5) bytes of the
  // doubleword at DBGWVR; MASK (bits 28:24) for power-of-two regions of 8
  // bytes and more (then BAS must be all ones).
  std::uint64_t lsc = 0;
  switch (type) {
    case BreakpointType::Write: lsc = 0b10; break;
    case BreakpointType::Read: lsc = 0b01; break;
    case BreakpointType::Access: lsc = 0b11; break;
    default: return make_error(EINVAL, "not a watchpoint type");
  }
  const std::uint64_t base = 0x1 | (0x3u << 1) | (lsc << 3);
  if (len == 0) return make_error(EINVAL, "watchpoint of 0 bytes at {:#x}", addr);
  if ((addr & 7) + len <= 8) {
    const std::uint64_t bas = ((std::uint64_t{1} << len) - 1) << (addr & 7);
    return std::pair{base | (bas << 5), addr & ~std::uint64_t{7}};
  }
  if (std::has_single_bit(len) && len >= 8 && (addr & (len - 1)) == 0 && len <= (std::uint64_t{1} << 31)) {
    const std::uint64_t mask = static_cast<std::uint64_t>(std::countr_zero(len));
    return std::pair{base | (0xffu << 5) | (mask << 24), addr};
  }
  return make_error(EINVAL,
                    "cannot watch {} bytes at {:#x}: a hardware watchpoint covers up to 8 bytes within one "
                    "doubleword, or an aligned power-of-two region",
                    len, addr);
}

Status Breakpoints::insert(BreakpointType type, std::uint64_t addr, std::uint64_t kind, const ReadMemory& read,
                           const WriteMemory& write) {
  switch (type) {
    case BreakpointType::Software: {
      if (kind != 4 || (addr & 3) != 0)
        return make_error(EINVAL, "software breakpoint at {:#x}: AArch64 instructions are 4 bytes, 4-aligned", addr);
      if (has_sw(addr)) return {};
      if (sw_.size() >= kMaxSoftware)
        return make_error(ENOSPC, "software breakpoint at {:#x}: all {} software breakpoints are in use", addr,
                          kMaxSoftware);
      auto original = read(addr, 4);
      if (!original) return original.error();
      if (original->size() != 4) return make_error(EFAULT, "cannot read the instruction at {:#x}", addr);
      const Bytes brk = le32(kBrk0);
      auto st = write(addr, brk);
      if (!st) return st;
      Soft bp{addr, {}};
      std::copy_n(original->begin(), 4, bp.original.begin());
      auto at =
          std::lower_bound(sw_.begin(), sw_.end(), addr, [](const Soft& s, std::uint64_t a) { return s.addr < a; });
      sw_.insert(at, bp);
      return {};
    }
    case BreakpointType::Hardware: {
      if (std::find(hw_.begin(), hw_.end(), addr) != hw_.end()) return {};
      if (caps_.hw_breakpoints == 0) return make_error(ENOSYS, "the host offers no hardware breakpoints");
      if (hw_.size() >= caps_.hw_breakpoints)
        return make_error(ENOSPC, "all {} hardware breakpoints are in use", caps_.hw_breakpoints);
      if (addr & 3) return make_error(EINVAL, "hardware breakpoint at {:#x} is not 4-aligned", addr);
      hw_.push_back(addr);
      return {};
    }
    case BreakpointType::Write:
    case BreakpointType::Read:
    case BreakpointType::Access: {
      for (const auto& w : wp_)
        if (w.type == type && w.addr == addr && w.len == kind) return {};
      if (caps_.hw_watchpoints == 0) return make_error(ENOSYS, "the host offers no hardware watchpoints");
      if (wp_.size() >= caps_.hw_watchpoints)
        return make_error(ENOSPC, "all {} hardware watchpoints are in use", caps_.hw_watchpoints);
      auto regs = wcr_wvr_for(type, addr, kind);
      if (!regs) return regs.error();
      wp_.push_back(Watch{type, addr, kind, regs->first, regs->second});
      return {};
    }
  }
  return make_error(ENOSYS, "unknown breakpoint type");
}

Status Breakpoints::remove(BreakpointType type, std::uint64_t addr, std::uint64_t kind, const WriteMemory& write) {
  switch (type) {
    case BreakpointType::Software: {
      auto it = find_sw(addr);
      if (it == sw_.end()) return make_error(ENOENT, "no software breakpoint at {:#x}", addr);
      auto st = write(addr, it->original);
      if (!st) return st;
      erase_sw(it);
      return {};
    }
    case BreakpointType::Hardware: {
      auto it = std::find(hw_.begin(), hw_.end(), addr);
      if (it == hw_.end()) return make_error(ENOENT, "no hardware breakpoint at {:#x}", addr);
      hw_.erase(it);
      return {};
    }
    default: {
      auto it = std::find_if(wp_.begin(), wp_.end(),
                             [&](const Watch& w) { return w.type == type && w.addr == addr && w.len == kind; });
      if (it == wp_.end()) return make_error(ENOENT, "no watchpoint at {:#x}", addr);
      wp_.erase(it);
      return {};
    }
  }
}

Status Breakpoints::remove_all(const WriteMemory& write) {
  Status first_error;
  for (const auto& bp : sw_) {
    auto st = write(bp.addr, bp.original);
    if (!st && first_error.ok()) first_error = st;
  }
  std::vector<Soft>().swap(sw_);
  hw_.clear();
  wp_.clear();
  return first_error;
}

kvm::GuestDebug Breakpoints::guest_debug() const {
  kvm::GuestDebug d;
  if (empty()) return d;
  d.control = kvm::GuestDebug::kEnable;
  if (!sw_.empty()) d.control |= kvm::GuestDebug::kUseSwBp;
  if (!hw_.empty() || !wp_.empty()) d.control |= kvm::GuestDebug::kUseHw;
  for (std::size_t i = 0; i < hw_.size(); ++i) {
    d.bcr[i] = bcr_for_address();
    d.bvr[i] = hw_[i];
  }
  for (std::size_t i = 0; i < wp_.size(); ++i) {
    d.wcr[i] = wp_[i].wcr;
    d.wvr[i] = wp_[i].wvr;
  }
  return d;
}

StopEvent Breakpoints::classify(const kvm::BackendStop& stop, std::uint64_t pc) const {
  StopEvent ev{stop.vcpu + 1u, Signal::Trap, GdbReason::Signal, 0};
  switch (stop.reason) {
    case kvm::StopReason::Interrupted: ev.signal = Signal::Int; return ev;
    case kvm::StopReason::Exited:
      ev.signal = Signal::Kill;
      ev.exited = true;
      return ev;
    default: break;
  }
  const unsigned ec = ec_of(stop.esr);
  if (ec == kEcBrk64 || (stop.reason == kvm::StopReason::Breakpoint && stop.esr == 0)) {
    // Only our own BRKs are "swbreak": a BRK the guest's code contains
    // is a plain SIGTRAP for gdb to explain.
    if (has_sw(pc)) ev.reason = GdbReason::SwBreak;
  } else if (ec == kEcHwBreakLower || ec == kEcHwBreakCurrent) {
    ev.reason = GdbReason::HwBreak;
  } else if (ec == kEcWatchLower || ec == kEcWatchCurrent || stop.reason == kvm::StopReason::Watchpoint) {
    // FAR holds the accessed address; report it inside the watched range
    // gdb set so that gdb finds its watchpoint.
    for (const auto& w : wp_) {
      const std::uint64_t lo = w.addr & ~std::uint64_t{7};
      const std::uint64_t hi = std::max(w.addr + w.len, lo + 8);
      if (stop.far >= lo && stop.far < hi) {
        ev.reason = w.type == BreakpointType::Write  ? GdbReason::Watch
                    : w.type == BreakpointType::Read ? GdbReason::ReadWatch
                                                     : GdbReason::AccessWatch;
        ev.watch_addr = std::clamp(stop.far, w.addr, w.addr + w.len - 1);
        break;
      }
    }
  } else if (ec == kEcStepLower || ec == kEcStepCurrent) {
    ev.reason = GdbReason::Signal;
  }
  return ev;
}

}  // namespace svedbg::introspect
