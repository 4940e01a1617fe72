// The simulated CPU's one store instruction and the hardware watchpoints it
// can hit (see sim_backend.hpp): enough for a guest program that writes a
// counter to memory, so that gdb's `watch` stops (and gdb's step over the
// watchpoint) can be tested on the sim.
#include "introspect/sim/sim_backend.hpp"
#include "introspect/sim/sim_bytes.hpp"

namespace svedbg::introspect {

using namespace sim_detail;

namespace {
// ESR_ELx EC of a watchpoint from a lower EL (KVM reports the guest's as
// such) and of a data abort from the same EL (Arm ARM D17.2.37); IL set.
constexpr std::uint64_t kEsrWatchLower = (std::uint64_t{0x34} << 26) | (1u << 25);
constexpr std::uint64_t kEsrDataAbortSameEl = (std::uint64_t{0x25} << 26) | (1u << 25);

// Whether DBGWCR/DBGWVR pair `i` of `dbg` watches a store to any of the 8
// bytes at `addr`: E set, LSC (bits 4:3) including stores, and either
// MASK (bits 28:24) giving an aligned 2^MASK-byte region at DBGWVR, or BAS
// (bits 12:5) selecting bytes of the doubleword at DBGWVR (Arm ARM D2.10).
bool watches_store(const kvm::GuestDebug& dbg, unsigned i, std::uint64_t addr) {
  const std::uint64_t wcr = dbg.wcr[i], wvr = dbg.wvr[i];
  if (!(wcr & 1) || !(wcr & (1u << 4))) return false;
  const unsigned mask = (wcr >> 24) & 0x1f;
  if (mask) {
    const std::uint64_t size = std::uint64_t{1} << mask;
    return addr + 8 > wvr && addr < wvr + size;
  }
  const unsigned bas = (wcr >> 5) & 0xff;
  for (unsigned b = 0; b < 8; ++b)
    if ((bas >> b) & 1) {
      const std::uint64_t byte = (wvr & ~std::uint64_t{7}) + b;
      if (byte >= addr && byte < addr + 8) return true;
    }
  return false;
}
}  // namespace

bool SimBackend::execute_store_locked(unsigned vcpu, std::uint32_t insn, std::uint64_t pc,
                                      std::optional<kvm::BackendStop>& stop) {
  // STR Xt, [Xn, #imm12*8] (C6.2 "STR (immediate)", unsigned offset, 64-bit):
  // 1111 1001 00 imm12 Rn Rt. Rn = 31 (SP) is not simulated.
  if ((insn & 0xffc00000) != 0xf9000000) return false;
  const unsigned rt = insn & 0x1f, rn = (insn >> 5) & 0x1f;
  if (rn == 31) return false;
  Vcpu& v = vcpus_[vcpu];
  const std::uint64_t addr = load_core_u64(v.core, layout::kRegs + 8 * rn) + 8 * ((insn >> 10) & 0xfff);
  const kvm::GuestDebug& dbg = debug_[vcpu];
  if ((dbg.control & kvm::GuestDebug::kEnable) && (dbg.control & kvm::GuestDebug::kUseHw)) {
    // A watchpoint exception is taken before the access: memory and pc are
    // unchanged, FAR holds the address the instruction accessed.
    for (unsigned i = 0; i < kvm::GuestDebug::kMaxHw; ++i)
      if (watches_store(dbg, i, addr)) {
        stop = kvm::BackendStop{vcpu, kvm::StopReason::Watchpoint, kEsrWatchLower, addr};
        return true;
      }
  }
  const std::uint64_t value = rt == 31 ? 0 : load_core_u64(v.core, layout::kRegs + 8 * rt);
  auto off = ram_offset_locked(addr);
  if (!off || *off + 8 > ram_.size()) {
    for (auto& [id, reg] : v.sysregs)
      if (id == kvm::far_el1()) reg = addr;  // FAR_EL1: the faulting address
    take_exception_locked(vcpu, kEsrDataAbortSameEl);
    return true;
  }
  const auto bytes = bytes_of(value);
  std::copy(bytes.begin(), bytes.end(), ram_.begin() + static_cast<std::ptrdiff_t>(*off));
  store_core_u64(v.core, layout::kPc, pc + 4);
  return true;
}

}  // namespace svedbg::introspect
