// kvm/scan/vmm_scan: what `svedbg ps` found, the data that vmm_find fills
// in, vcpu_threads and vcpu_inspect complete, and ps_text and ps_json print.
//
// Contract: a VmmScan lists the VMMs (processes holding a VM fd,
// anon_inode:kvm-vm, or vCPU fds, anon_inode:kvm-vcpu:N) in ascending pid,
// each with its vCPUs in ascending id and its threads in ascending TID.
// One VcpuEntry is one KVM vCPU; its fds are the VMM's fds for it (several
// when dup'ed). The thread running a vCPU is known when `tid` is set, with
// the source that told it (ThreadSource, in the order they are tried:
// kvm_run, attach, debugfs, name). The vector-length fields are set only
// when vCPUs were inspected (`svedbg ps --vl`): vl_read says whether sve,
// vls and effective_vq are valid, and vl_error (per vCPU, or per VMM when
// the VMM could not be inspected at all) says why not. Processes whose
// /proc/PID/fd could not be read are counted, and listed in
// unreadable_vmms when they look like VMMs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvm/vls.hpp"

namespace svedbg::kvm {

enum class ThreadSource { None, KvmRun, Attach, Debugfs, Name };

constexpr std::string_view to_string(ThreadSource s) {
  switch (s) {
    case ThreadSource::KvmRun: return "kvm_run";
    case ThreadSource::Attach: return "attach";
    case ThreadSource::Debugfs: return "debugfs";
    case ThreadSource::Name: return "name";
    case ThreadSource::None: break;
  }
  return "-";
}

struct VcpuEntry {
  unsigned id = 0;       // kvm-vcpu:N
  std::vector<int> fds;  // the VMM's fds for it, ascending (more than one: dup'ed)
  int fd() const { return fds.empty() ? -1 : fds.front(); }
  std::optional<pid_t> tid;
  std::string thread_name;  // /proc/PID/task/TID/comm
  ThreadSource thread_source = ThreadSource::None;
  // From inspecting the vCPU (--vl):
  bool vl_read = false;  // sve, vls, effective_vq are valid
  bool sve = false;      // false: VLS absent (ENOENT), an FPSIMD-only vCPU
  VqSet vls;
  unsigned effective_vq = 0;
  std::string vl_error;  // this vCPU's registers could not be read
};

struct ThreadEntry {
  pid_t tid = 0;
  std::string name;     // /proc/PID/task/TID/comm
  bool worker = false;  // a kernel worker in the process (PF_USER_WORKER, PF_IO_WORKER, e.g.
                        // kvm-nx-lpage-recovery): its syscall file shows its creator's call
  bool operator==(const ThreadEntry&) const = default;
};

struct VmmEntry {
  pid_t pid = 0;
  std::string comm;
  std::vector<std::string> cmdline;
  long uid = -1;
  pid_t tracer = 0;  // TracerPid from /proc/PID/status (0: not traced)
  std::string tracer_comm;
  std::vector<int> vm_fds;  // ascending
  std::vector<VcpuEntry> vcpus;
  std::vector<ThreadEntry> threads;  // ascending TID
  std::string vl_error;              // --vl: the VMM could not be inspected
};

struct UnreadableProcess {
  pid_t pid = 0;
  std::string comm;
  long uid = -1;
  std::string reason;
};

struct VmmScan {
  std::vector<VmmEntry> vmms;
  std::vector<UnreadableProcess> unreadable_vmms;  // look like VMMs
  unsigned processes = 0;                          // looked at (kernel threads excluded)
  unsigned unreadable = 0;                         // their fds could not be read (unreadable_vmms included)
  bool vl_requested = false;
  bool vl_supported = false;  // this build can inspect vCPUs (an inspector exists)
  std::string vl_note;        // e.g. why --vl reads nothing on this host
};

}  // namespace svedbg::kvm
