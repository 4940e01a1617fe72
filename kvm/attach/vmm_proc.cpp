// A VMM process seen through /proc (see vmm_proc.hpp).
#include "kvm/attach/vmm_proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "kvm/proc_parse.hpp"

namespace svedbg::kvm {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string comm_of(pid_t pid) {
  std::string c = strip_line_end(read_text(fmt::format("/proc/{}/comm", pid)));
  return c.empty() ? "?" : c;
}

std::string ptrace_denied_reason(pid_t pid) {
  const long tracer = status_number(read_text(fmt::format("/proc/{}/status", pid)), "TracerPid").value_or(-1);
  if (tracer > 0)
    return fmt::format("it is already traced by process {} ({})", tracer, comm_of(static_cast<pid_t>(tracer)));
  const std::string scope = strip_line_end(read_text("/proc/sys/kernel/yama/ptrace_scope"));
  if (scope == "1")
    return "/proc/sys/kernel/yama/ptrace_scope is 1 (only a parent may trace its children): run svedbg with "
           "CAP_SYS_PTRACE (e.g. as root) or set ptrace_scope to 0";
  if (scope == "2")
    return "/proc/sys/kernel/yama/ptrace_scope is 2: only a process with CAP_SYS_PTRACE (e.g. root) may attach";
  if (scope == "3") return "/proc/sys/kernel/yama/ptrace_scope is 3: ptrace attach is disabled until reboot";
  return "no ptrace rights over it: it belongs to another user or is not dumpable; svedbg needs the same uid "
         "or CAP_SYS_PTRACE";
}

std::vector<pid_t> list_tasks(pid_t pid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir(fmt::format("/proc/{}/task", pid).c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    out.push_back(static_cast<pid_t>(std::strtol(e->d_name, nullptr, 10)));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool sigtrap_safe(std::string_view task_status) {
  const auto blocked = status_mask(task_status, "SigBlk");
  const auto ignored = status_mask(task_status, "SigIgn");
  constexpr std::uint64_t kTrap = 1ull << (SIGTRAP - 1);
  return blocked && ignored && !(*blocked & kTrap) && !(*ignored & kTrap);
}

bool VmmMemory::open(pid_t pid) {
  if (!fd_.valid()) fd_.reset(::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC));
  return fd_.valid();
}

bool VmmMemory::peek(std::uint64_t addr, void* out, std::size_t n) const {
  return ::pread(fd_.get(), out, n, static_cast<off_t>(addr)) == static_cast<ssize_t>(n);
}

bool VmmMemory::poke(std::uint64_t addr, const void* in, std::size_t n) const {
  return ::pwrite(fd_.get(), in, n, static_cast<off_t>(addr)) == static_cast<ssize_t>(n);
}

void WritableMaps::learn(const std::vector<MapEntry>& maps) {
  ranges_.clear();
  for (const auto& e : maps)
    if (e.read && e.write) ranges_.emplace_back(e.start, e.end);  // /proc lists them in order
}

const std::pair<std::uint64_t, std::uint64_t>* WritableMaps::at(std::uint64_t addr) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](std::uint64_t a, const auto& m) { return a < m.first; });
  if (it == ranges_.begin() || addr >= std::prev(it)->second) return nullptr;
  return &*std::prev(it);
}

Result<StackRoom> WritableMaps::stack_room(pid_t pid, pid_t tid, std::uint64_t sp, std::size_t max_bytes) {
  const auto* m = at(sp);
  if (!m) {
    learn(parse_maps(read_text(fmt::format("/proc/{}/maps", pid))));
    m = at(sp);
    if (!m) return make_error(EFAULT, "thread {}: sp {:#x} is in no writable mapping of the VMM", tid, sp);
  }
  const std::uint64_t low = (m->first + 15) & ~std::uint64_t{15};
  const std::uint64_t top = (sp - 4096) & ~std::uint64_t{15};
  if (sp < 4096 || top <= low) return make_error(ENOSPC, "thread {}: no room below sp {:#x} for a batch", tid, sp);
  return StackRoom{top, static_cast<std::size_t>(std::min<std::uint64_t>(top - low, max_bytes))};
}

}  // namespace svedbg::kvm
