// The JSON document of `svedbg ps --json` (see ps_json.hpp).
#include "kvm/scan/ps_json.hpp"

#include <vector>

#include <fmt/format.h>

#include "common/json.hpp"

namespace svedbg::kvm {
namespace {

std::string json_opt_string(const std::string& s) { return s.empty() ? "null" : json_quote(s); }

template <typename T>
std::string json_numbers(const std::vector<T>& v) {
  std::string out = "[";
  for (std::size_t k = 0; k < v.size(); ++k) out += fmt::format("{}{}", k ? ", " : "", v[k]);
  return out + "]";
}

std::string vls_bits_json(const VqSet& vls) {
  std::vector<unsigned> bits;
  for (unsigned vq : vls.list()) bits.push_back(vq * 128);
  return json_numbers(bits);
}

std::string vcpu_json(const VcpuEntry& v) {
  std::string out = fmt::format("{{\"id\": {}, \"fd\": {}, ", v.id, v.fd());
  if (v.fds.size() > 1) out += fmt::format("\"fds\": {}, ", json_numbers(v.fds));
  if (v.tid)
    out += fmt::format("\"tid\": {}, \"thread_name\": {}, \"thread_source\": {}, ", *v.tid, json_quote(v.thread_name),
                       json_quote(to_string(v.thread_source)));
  else
    out += "\"tid\": null, \"thread_name\": null, \"thread_source\": null, ";
  if (v.vl_read && v.sve)
    out += fmt::format("\"sve\": true, \"vls\": {}, \"max_vl\": {}, \"effective_vl\": {}, ", vls_bits_json(v.vls),
                       v.vls.max() * 128, v.effective_vq * 128);
  else if (v.vl_read)
    out += "\"sve\": false, \"vls\": null, \"max_vl\": null, \"effective_vl\": null, ";
  else
    out += "\"sve\": null, \"vls\": null, \"max_vl\": null, \"effective_vl\": null, ";
  return out + fmt::format("\"vl_error\": {}}}", json_opt_string(v.vl_error));
}

std::string vmm_json(const VmmEntry& vmm) {
  std::string out = fmt::format("{{\"pid\": {}, \"comm\": {}, \"cmdline\": [", vmm.pid, json_quote(vmm.comm));
  for (std::size_t k = 0; k < vmm.cmdline.size(); ++k) out += (k ? ", " : "") + json_quote(vmm.cmdline[k]);
  out += fmt::format("], \"uid\": {}, ", vmm.uid);
  if (vmm.tracer > 0)
    out += fmt::format("\"traced_by\": {{\"pid\": {}, \"comm\": {}}}, ", vmm.tracer, json_quote(vmm.tracer_comm));
  else
    out += "\"traced_by\": null, ";
  out += fmt::format("\"vm_fds\": {}, \"threads\": [", json_numbers(vmm.vm_fds));
  for (std::size_t k = 0; k < vmm.threads.size(); ++k)
    out += fmt::format("{}{{\"tid\": {}, \"name\": {}{}}}", k ? ", " : "", vmm.threads[k].tid,
                       json_quote(vmm.threads[k].name), vmm.threads[k].worker ? ", \"kernel_worker\": true" : "");
  out += fmt::format("],\n     \"vl_error\": {},\n     \"vcpus\": [", json_opt_string(vmm.vl_error));
  for (std::size_t k = 0; k < vmm.vcpus.size(); ++k) out += (k ? ",\n       " : "\n       ") + vcpu_json(vmm.vcpus[k]);
  return out + "]}";
}

}  // namespace

std::string format_json(const VmmScan& scan) {
  std::string out = "{\n  \"svedbg_ps\": 1,\n";
  out += fmt::format("  \"processes\": {},\n  \"unreadable\": {},\n  \"vl_requested\": {},\n", scan.processes,
                     scan.unreadable, scan.vl_requested ? "true" : "false");
  out += "  \"vmms\": [";
  for (std::size_t i = 0; i < scan.vmms.size(); ++i) out += (i ? ",\n    " : "\n    ") + vmm_json(scan.vmms[i]);
  out += scan.vmms.empty() ? "],\n" : "\n  ],\n";
  out += "  \"unreadable_vmms\": [";
  for (std::size_t i = 0; i < scan.unreadable_vmms.size(); ++i) {
    const auto& u = scan.unreadable_vmms[i];
    out += fmt::format("{}\n    {{\"pid\": {}, \"comm\": {}, \"uid\": {}, \"reason\": {}}}", i ? "," : "", u.pid,
                       json_quote(u.comm), u.uid, json_quote(u.reason));
  }
  out += scan.unreadable_vmms.empty() ? "],\n" : "\n  ],\n";
  out += fmt::format("  \"note\": {}\n}}\n", json_opt_string(scan.vl_note));
  return out;
}

const char* const kPsJsonHelp = R"(
Columns: PID, COMMAND (/proc/PID/comm), VM FD (anon_inode:kvm-vm fds), VCPU
(the N of anon_inode:kvm-vcpu:N), FD (its fds), TID and THREAD (the thread
running it and its name), SOURCE (how that thread was told: kvm_run = now
blocked in ioctl(FD, KVM_RUN); attach = seen leaving KVM_RUN when --vl
stopped the VMM; debugfs = KVM's debugfs vcpuN/pid, the last thread that ran
it (root); name = a thread named for it, e.g. QEMU's "CPU N/KVM"), VLS (the
vCPU's enabled vector lengths) and VL (its effective vector length: the
largest enabled one not above (ZCR_EL1.LEN+1)*128 bits). VLS and VL need
--vl, and are "-" on hosts without SVE. A VMM whose /proc/PID/fd you may not
read is listed when its name looks like a VMM, with the reason; the others
are counted.

--json prints one object:
  svedbg_ps       1 (format version)
  processes       processes looked at; unreadable: how many of them had an
                  unreadable /proc/PID/fd
  vl_requested    whether --vl was given
  vmms[]          pid, comm, cmdline[] (argv), uid, traced_by (null or
                  {pid, comm}), vm_fds[], threads[] ({tid, name}, and
                  kernel_worker: true for KVM's or io_uring's workers),
                  vl_error (null, or why the VMM could not be attached),
                  vcpus[] in ascending id:
                    id, fd (and fds[] when it has several), tid,
                    thread_name, thread_source (null when unknown;
                    kvm_run|attach|debugfs|name),
                    sve (null: not read; false: no SVE), vls[] (bits),
                    max_vl, effective_vl (bits; null unless read),
                    vl_error (null, or why this vCPU was not read)
  unreadable_vmms[]  pid, comm, uid, reason
  note            null, or a remark (e.g. --vl on a host without SVE)
Exit status 0, also when no VMM is found (vmms is then empty).
)";

}  // namespace svedbg::kvm
