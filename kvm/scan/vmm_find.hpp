// kvm/scan/vmm_find: the KVM VMMs of this host and their vCPU fds, found in
// /proc without stopping anything (the first step of `svedbg ps`).
//
// Contract:
//  - scan_vmms() reads a /proc tree (ScanOptions::proc_root, default /proc;
//    tests pass a fake tree) and KVM's debugfs. A process is a VMM when
//    /proc/PID/fd holds a VM fd (anon_inode:kvm-vm) or vCPU fds
//    (anon_inode:kvm-vcpu:N; kvm/proc_parse.hpp). vCPUs are listed in
//    ascending N (the order the attach backend serves them in), VMMs in
//    ascending pid. Several fds of one kvm-vcpu:N (dup'ed, e.g. by an mmap
//    wrapper) are one vCPU, unless the process has several VM fds (then
//    the fds may be vCPUs of different VMs, which /proc cannot tell apart:
//    one row each). Each VMM's threads and the thread running each vCPU
//    come from vcpu_threads.hpp. Kernel threads (PF_KTHREAD in
//    /proc/PID/stat) are skipped and not counted; processes that vanish
//    during the scan are skipped. Only a /proc root that cannot be listed
//    is an error.
//  - A process whose /proc/PID/fd cannot be read (EACCES: another user's,
//    or not dumpable) is counted in `unreadable`; if it looks like a VMM
//    (looks_like_vmm: its name or a thread's name) it is also listed in
//    `unreadable_vmms` with the reason, stated against `self_uid`.
//  - looks_like_vmm(): a process or thread name that says VMM:
//    qemu-system-*, qemu-kvm, firecracker, cloud-hypervisor, crosvm, lkvm,
//    svedbg-vmm, ... (the basename of argv[0] counts too), or a vCPU
//    thread name (vcpu_from_thread_name).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "kvm/scan/tree_reader.hpp"
#include "kvm/scan/vmm_scan.hpp"

namespace svedbg::kvm {

struct ScanOptions {
  std::string proc_root = "/proc";
  std::string debugfs_root = "/sys/kernel/debug";  // KVM's files in ROOT/kvm
  long ioctl_nr = -1;                              // -1: this host's __NR_ioctl
  long self_uid = -1;                              // -1: geteuid(); reasons say "another user's" against it
};

Result<VmmScan> scan_vmms(const ScanOptions& options = {});
// The same over given trees (tests inject errors through TreeReader).
Result<VmmScan> scan_vmms(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, long self_uid);

bool looks_like_vmm(std::string_view comm, const std::vector<std::string>& cmdline,
                    const std::vector<std::string>& thread_names);

}  // namespace svedbg::kvm
