// kvm/attach/vmm_proc: what the attach backend reads about a VMM process
// from /proc, and its memory through /proc/PID/mem.
//
// Contract:
//  - read_text(path): the whole file, "" when unreadable; comm_of(pid): its
//    /proc/PID/comm, "?" when unknown.
//  - ptrace_denied_reason(pid): why PTRACE_SEIZE got EPERM, in words:
//    already traced (TracerPid in /proc/PID/status), Yama's ptrace_scope
//    (Documentation/admin-guide/LSM/Yama.rst), else no rights.
//  - list_tasks(pid): the thread ids in /proc/PID/task, ascending.
//  - sigtrap_safe(status): from a /proc/PID/task/TID/status text, whether
//    SIGTRAP is neither blocked (SigBlk) nor ignored (SigIgn): only then may
//    the kernel force one on the thread (a `brk`, a single step) without
//    unblocking it or resetting its handler (kernel/signal.c,
//    force_sig_info_to_task). Unknown: not safe.
//  - VmmMemory: pread/pwrite of /proc/PID/mem; a partial transfer fails.
//  - WritableMaps: the VMM's readable and writable mappings, re-read from
//    /proc/PID/maps only when an address is in none known (a mapping
//    holding a live thread's sp does not go away, and stacks only grow);
//    stack_room() is where a trip may put bytes below a thread's sp: below
//    4 KiB under sp (16-aligned), down to the bottom of sp's mapping, at
//    most `max_bytes`.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "kvm/proc_parse.hpp"

namespace svedbg::kvm {

std::string read_text(const std::string& path);
std::string comm_of(pid_t pid);
std::string ptrace_denied_reason(pid_t pid);
std::vector<pid_t> list_tasks(pid_t pid);
bool sigtrap_safe(std::string_view task_status);

class VmmMemory {
 public:
  // Opens /proc/PID/mem read-write, unless already open; false: errno says why.
  bool open(pid_t pid);
  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  bool peek(std::uint64_t addr, void* out, std::size_t n) const;
  bool poke(std::uint64_t addr, const void* in, std::size_t n) const;

 private:
  UniqueFd fd_;
};

struct StackRoom {
  std::uint64_t top = 0;  // 16-aligned, 4 KiB below sp
  std::size_t bytes = 0;  // usable below top
};

class WritableMaps {
 public:
  void learn(const std::vector<MapEntry>& maps);
  void forget() { ranges_.clear(); }
  // The known writable mapping holding addr: [first, second), or nullptr.
  const std::pair<std::uint64_t, std::uint64_t>* at(std::uint64_t addr) const;
  // Room below `sp` of thread `tid` of VMM `pid` (maps re-read if needed).
  Result<StackRoom> stack_room(pid_t pid, pid_t tid, std::uint64_t sp, std::size_t max_bytes);

 private:
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges_;  // [start, end), sorted
};

}  // namespace svedbg::kvm
