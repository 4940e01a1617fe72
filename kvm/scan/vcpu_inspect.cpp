// Merging inspected vCPUs into a scan (see vcpu_inspect.hpp).
#include "kvm/scan/vcpu_inspect.hpp"

#include <algorithm>

#include "kvm/scan/vcpu_threads.hpp"

namespace svedbg::kvm {
namespace {

void merge_vcpu(VmmEntry& vmm, VcpuEntry& v, const std::vector<VcpuVl>& found) {
  auto it = std::find_if(found.begin(), found.end(), [&](const VcpuVl& x) { return x.id == v.id; });
  if (it == found.end()) {
    v.vl_error = "not found when attached";
    return;
  }
  auto known = std::find_if(found.begin(), found.end(), [&](const VcpuVl& x) { return x.id == v.id && x.tid; });
  const bool told = v.thread_source == ThreadSource::KvmRun || v.thread_source == ThreadSource::Attach;
  if (known != found.end() && !told && is_user_thread(vmm, *known->tid))
    assign_thread(vmm, v, *known->tid, ThreadSource::Attach);
  if (!it->error.empty()) {
    v.vl_error = it->error;
    return;
  }
  v.vl_read = true;
  v.sve = it->sve;
  v.vls = it->vls;
  v.effective_vq = it->sve ? it->effective_vq : 0;
}

}  // namespace

void merge_vector_lengths(VmmScan& scan, const VcpuInspector& inspect) {
  scan.vl_requested = true;
  if (!inspect) return;
  for (auto& vmm : scan.vmms) {
    if (vmm.vcpus.empty()) continue;
    auto found = inspect(vmm.pid);
    if (!found) {
      vmm.vl_error = found.error().message;
      continue;
    }
    for (auto& v : vmm.vcpus) merge_vcpu(vmm, v, *found);
  }
}

}  // namespace svedbg::kvm
