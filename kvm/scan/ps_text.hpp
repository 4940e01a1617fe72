// kvm/scan/ps_text: a scan as the table `svedbg ps` prints.
//
// Contract: format_text() gives one row per vCPU (a VMM without vCPUs gets
// one row saying so, a VMM whose fds are not readable one row with the
// reason), ordered by pid, in columns PID COMMAND "VM FD" VCPU FD TID
// THREAD SOURCE VLS VL, each as wide as its widest cell plus two spaces,
// without trailing blanks. Unknown values are "?" (not found) or "-" (not
// asked, or nothing to show). Notes follow the table: which VMMs are
// traced and by whom, how to find the unknown threads, that --vl reads the
// VLs (when this build can and they were not asked for), the scan's
// vl_note, and how many other processes could not be read. No rows at
// all: one line, "no KVM VMMs found (looked at N processes)".
#pragma once

#include <string>

#include "kvm/scan/vmm_scan.hpp"

namespace svedbg::kvm {

std::string format_text(const VmmScan& scan);

}  // namespace svedbg::kvm
