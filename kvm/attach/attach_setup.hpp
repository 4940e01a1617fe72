// kvm/attach/attach_setup: the steps of attaching that only read the VMM
// (through /proc and a `peek` of its memory), each named as
// AttachBackend::attach() lists them.
//
// Contract:
//  - find_vcpu_fds(pid): the VMM's vCPU fds, from the /proc/PID/fd links
//    anon_inode:kvm-vcpu:N, in ascending N (then fd); a vCPU open twice (a
//    dup()'ed fd) is served once, through its lowest fd (logged). Errors
//    say why: /proc/PID/fd unreadable (with ptrace_denied_reason), or no
//    vCPU fd (not a KVM VMM, or no vCPU yet).
//  - find_kvm_run_maps(): each vCPU's kvm_run mapping (the mmap of its fd
//    at offset 0, "anon_inode:kvm-vcpu:N" in the maps).
//  - find_syscall_site(): the address of an `svc #0` in the VMM's own
//    executable mappings, where injected system calls are run from.
//  - find_loop_cave(): where the batch loop runs (code_cave.hpp), with the
//    cave's own bytes to put back; nullopt: none.
//  - find_guest_ram(): guest RAM ranges sorted by GPA: each given one
//    resolved against the maps (resolve_guest_ram), or, none given, what
//    the maps name (guest_ram_from_maps); none found is logged (memory
//    accesses then fail with EFAULT).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/result.hpp"
#include "kvm/attach/attach_options.hpp"
#include "kvm/attach/code_cave.hpp"
#include "kvm/backend.hpp"
#include "kvm/proc_parse.hpp"
#include "kvm/vls.hpp"

namespace svedbg::kvm {

// One vCPU of the attached VMM.
struct VmmVcpu {
  unsigned id = 0;           // KVM vCPU id (kvm-vcpu:N)
  int fd = -1;               // the VMM's fd for it
  std::uint64_t run = 0;     // the VMM's address of its kvm_run mmap (0: unknown)
  std::optional<VqSet> vls;  // read once at attach; nullopt: no SVE
  GuestDebug debug;          // breakpoints/watchpoints from set_guest_debug
};

Result<std::vector<VmmVcpu>> find_vcpu_fds(pid_t pid, const LogFn& log);
// Sorts by (id, fd) and keeps the lowest fd of each id (logged).
std::vector<VmmVcpu> unique_vcpus(std::vector<VmmVcpu> vcpus, pid_t pid, const LogFn& log);
void find_kvm_run_maps(std::vector<VmmVcpu>& vcpus, const std::vector<MapEntry>& maps);
std::optional<std::uint64_t> find_syscall_site(const std::vector<MapEntry>& maps, const PeekFn& peek);

struct LoopCave {
  CodeCave cave;
  std::vector<std::byte> own_bytes;  // its bytes before the loop is written
};
std::optional<LoopCave> find_loop_cave(const std::vector<MapEntry>& maps, std::uint64_t page_size, const PeekFn& peek);

Result<std::vector<RamRange>> find_guest_ram(pid_t pid, const std::vector<RamRange>& given,
                                             const std::vector<MapEntry>& maps, const LogFn& log);

}  // namespace svedbg::kvm
