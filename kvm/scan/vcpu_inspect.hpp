// kvm/scan/vcpu_inspect: what inspecting a VMM's vCPUs tells (`svedbg ps
// --vl`), merged into a scan. The scan does not know how a VMM is
// inspected: the caller supplies a VcpuInspector (the CLI's attaches with
// ptrace on arm64; tests pass a fake one).
//
// Contract:
//  - A VcpuInspector is called with a VMM's pid and returns one VcpuVl per
//    vCPU it found, or an error saying why the VMM could not be inspected
//    (e.g. already traced, no ptrace rights). Several VcpuVl of one id are
//    allowed (a dup'ed vCPU fd seen as one more vCPU); the first one gives
//    the vector lengths, any of them may name the thread.
//  - merge_vector_lengths() sets vl_requested and, with an inspector, calls
//    it once per VMM with vCPUs, in pid order. A VMM error goes to
//    VmmEntry::vl_error; a vCPU the inspector did not report gets the
//    vl_error "not found when attached"; a VcpuVl with an error sets that
//    vCPU's vl_error; otherwise vl_read, sve, vls and effective_vq (0
//    without SVE) are set. A reported thread is taken (source attach) when
//    it is a user thread of the VMM and the vCPU's thread was not told by
//    kvm_run (a thread blocked in KVM_RUN now outranks one seen before).
//    Without an inspector nothing else changes: the VL columns stay "-".
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "kvm/scan/vmm_scan.hpp"
#include "kvm/vls.hpp"

namespace svedbg::kvm {

struct VcpuVl {
  unsigned id = 0;            // kvm-vcpu:N
  std::optional<pid_t> tid;   // the thread seen leaving KVM_RUN, if known
  bool sve = false;           // false: no SVE (VLS absent)
  VqSet vls;                  // the enabled vector lengths, with SVE
  unsigned effective_vq = 0;  // from ZCR_EL1, clamped to an enabled vq
  std::string error;          // non-empty: sve/vls/effective_vq not read
};

using VcpuInspector = std::function<Result<std::vector<VcpuVl>>(pid_t vmm)>;

void merge_vector_lengths(VmmScan& scan, const VcpuInspector& inspect);

}  // namespace svedbg::kvm
