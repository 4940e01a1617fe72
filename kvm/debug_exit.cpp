#include "kvm/debug_exit.hpp"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "common/unique_fd.hpp"

namespace svedbg::kvm {

BackendStop debug_exit_stop(unsigned vcpu, std::uint64_t esr, std::uint64_t far, bool stepping) {
  BackendStop stop{vcpu, stepping ? StopReason::Stepped : StopReason::Breakpoint, esr, far};
  switch ((esr >> 26) & 0x3f) {
    case 0x32:
    case 0x33: stop.reason = StopReason::Stepped; break;  // software step
    case 0x30:
    case 0x31:
    case 0x3c: stop.reason = StopReason::Breakpoint; break;  // HW breakpoint, BRK
    case 0x34:
    case 0x35: stop.reason = StopReason::Watchpoint; break;  // watchpoint
    default: break;
  }
  return stop;
}

DebugCaps host_debug_caps() {
  DebugCaps caps;
  UniqueFd kvm_fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!kvm_fd.valid()) return caps;
  caps.guest_debug = ::ioctl(kvm_fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG) > 0;
  const int bps = ::ioctl(kvm_fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_GUEST_DEBUG_HW_BPS);
  const int wps = ::ioctl(kvm_fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_GUEST_DEBUG_HW_WPS);
  caps.hw_breakpoints = bps > 0 ? static_cast<unsigned>(bps) : 0;
  caps.hw_watchpoints = wps > 0 ? static_cast<unsigned>(wps) : 0;
  return caps;
}

}  // namespace svedbg::kvm
