// kvm/scan/vcpu_threads: the threads of a VMM and which of them runs each
// vCPU, as far as /proc and KVM's debugfs tell without stopping anything.
//
// Contract:
//  - threads_of(): the threads of /proc/PID/task in ascending TID with
//    their names; `worker` marks the kernel workers of the process
//    (PF_USER_WORKER/PF_IO_WORKER/PF_KTHREAD in task/TID/stat, e.g. x86
//    KVM's kvm-nx-lpage-recovery, forked from a vCPU thread inside KVM_RUN):
//    their syscall file shows their creator's call, so no source below ever
//    takes one.
//  - attribute_threads() sets the thread of each vCPU from the first source
//    that tells, and leaves it unset when a source names several:
//      kvm_run  the one thread blocked in ioctl(fd, KVM_RUN) on one of the
//               vCPU's fds (/proc/PID/task/TID/syscall; `ioctl_nr` is the
//               host's ioctl number). A thread running guest code reads
//               "running" there, so this names idle vCPUs only;
//      debugfs  DEBUGFS/kvm/CREATOR-VMFD/vcpuN/pid, the last thread that
//               ran KVM_RUN on it (root, debugfs mounted), for a VM fd the
//               VMM holds, if that thread belongs to the VMM;
//      name     the one thread named for vCPU N (vcpu_from_thread_name) if
//               it runs no other vCPU: a guess that QEMU's cpu index is the
//               KVM vCPU id (true on arm64).
//    The fourth source, attach (a thread seen leaving KVM_RUN when the VMM
//    was stopped), comes from inspecting the VMM (vcpu_inspect.hpp).
//  - vcpu_from_thread_name(): the vCPU a thread name states: QEMU's
//    "CPU N/KVM", "vcpuN", "fc_vcpu N" (Firecracker), "crosvm_vcpuN";
//    nullopt otherwise ("CPU N/TCG" included: TCG threads are not KVM's).
//  - is_user_thread() and assign_thread() are the checks and the update
//    every source shares.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvm/scan/tree_reader.hpp"
#include "kvm/scan/vmm_scan.hpp"

namespace svedbg::kvm {

std::vector<ThreadEntry> threads_of(const TreeReader& proc, pid_t pid);
void attribute_threads(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, VmmEntry& vmm);
std::optional<unsigned> vcpu_from_thread_name(std::string_view name);

// `tid` is one of the VMM's threads and not a kernel worker.
bool is_user_thread(const VmmEntry& vmm, pid_t tid);
// Records `tid` (with its name) as the thread running `vcpu`, told by `how`.
void assign_thread(const VmmEntry& vmm, VcpuEntry& vcpu, pid_t tid, ThreadSource how);

}  // namespace svedbg::kvm
