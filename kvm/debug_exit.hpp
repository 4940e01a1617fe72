// kvm::debug_exit: what both KVM backends need to know about guest debug.
//
// Contract: debug_exit_stop() turns a KVM_EXIT_DEBUG (arm64 struct
// kvm_debug_exit_arch: hsr = ESR_EL2 of the debug exception, far) into the
// Backend's stop: ESR.EC 0x32/0x33 software step, 0x30/0x31 hardware
// breakpoint and 0x3c BRK (breakpoints), 0x34/0x35 watchpoint (Arm ARM D17.2.37
// "ESR_EL2"); any other class keeps the caller's guess (a step when it was
// single-stepping). host_debug_caps() asks /dev/kvm (KVM_CHECK_EXTENSION is
// a system ioctl, api.rst) for KVM_CAP_SET_GUEST_DEBUG and the numbers of
// hardware breakpoints and watchpoints; all zero when /dev/kvm cannot be
// opened.
#pragma once

#include <cstdint>

#include "kvm/backend.hpp"

namespace svedbg::kvm {

BackendStop debug_exit_stop(unsigned vcpu, std::uint64_t esr, std::uint64_t far, bool stepping);
DebugCaps host_debug_caps();

}  // namespace svedbg::kvm
