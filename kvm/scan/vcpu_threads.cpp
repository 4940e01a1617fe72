// The thread running each vCPU of a VMM (see vcpu_threads.hpp).
#include "kvm/scan/vcpu_threads.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <set>

#include <fmt/format.h>

#include "kvm/proc_parse.hpp"

namespace svedbg::kvm {
namespace {

bool needs_thread(const VmmEntry& vmm) {
  return std::any_of(vmm.vcpus.begin(), vmm.vcpus.end(), [](const VcpuEntry& v) { return !v.tid; });
}

// The one thread blocked in KVM_RUN on the vCPU's fds (a second one would
// be waiting for the vCPU's mutex inside the same call).
void from_kvm_run(const TreeReader& proc, long ioctl_nr, VmmEntry& vmm) {
  std::map<std::uint64_t, std::vector<pid_t>> in_run;  // fd -> threads
  for (const auto& t : vmm.threads) {
    if (t.worker) continue;
    auto text = proc.read_file(fmt::format("{}/task/{}/syscall", vmm.pid, t.tid));
    if (!text) continue;
    auto sc = parse_syscall(*text);
    if (!sc || sc->kind != SyscallState::Kind::InSyscall || sc->nr != ioctl_nr || sc->args[1] != kKvmRun) continue;
    in_run[sc->args[0]].push_back(t.tid);
  }
  for (auto& v : vmm.vcpus) {
    std::set<pid_t> running;
    for (int fd : v.fds)
      if (auto it = in_run.find(static_cast<std::uint64_t>(fd)); it != in_run.end())
        running.insert(it->second.begin(), it->second.end());
    if (running.size() == 1) assign_thread(vmm, v, *running.begin(), ThreadSource::KvmRun);
  }
}

// The debugfs directories of the VMM's VMs: kvm/CREATOR-VMFD, created by
// one of its threads for one of the VM fds it holds.
std::vector<std::string> debugfs_vm_dirs(const TreeReader& debugfs, const VmmEntry& vmm) {
  std::vector<std::string> dirs;
  auto entries = debugfs.list("kvm");
  if (!entries) return dirs;
  for (const auto& e : *entries) {
    const std::string_view name = e;
    auto dash = name.find('-');
    if (dash == std::string_view::npos) continue;
    auto creator = parse_decimal<pid_t>(name.substr(0, dash));
    auto fd = parse_decimal<int>(name.substr(dash + 1));
    if (!creator || !fd) continue;
    if (*creator != vmm.pid && !is_user_thread(vmm, *creator)) continue;
    if (std::find(vmm.vm_fds.begin(), vmm.vm_fds.end(), *fd) == vmm.vm_fds.end()) continue;
    dirs.push_back("kvm/" + e);
  }
  return dirs;
}

void from_debugfs(const TreeReader& debugfs, VmmEntry& vmm) {
  if (!needs_thread(vmm) || vmm.vm_fds.empty()) return;
  const auto dirs = debugfs_vm_dirs(debugfs, vmm);
  for (auto& v : vmm.vcpus) {
    if (v.tid) continue;
    std::set<pid_t> seen;
    for (const auto& d : dirs) {
      auto text = debugfs.read_file(fmt::format("{}/vcpu{}/pid", d, v.id));
      if (!text) continue;
      auto tid = parse_decimal<pid_t>(strip_line_end(*text));
      if (tid && *tid > 0 && is_user_thread(vmm, *tid)) seen.insert(*tid);
    }
    if (seen.size() == 1) assign_thread(vmm, v, *seen.begin(), ThreadSource::Debugfs);
  }
}

// A thread named for the vCPU, if it is the only one and runs no other.
void from_names(VmmEntry& vmm) {
  std::map<unsigned, std::vector<pid_t>> named;
  for (const auto& t : vmm.threads)
    if (auto n = vcpu_from_thread_name(t.name); n && !t.worker) named[*n].push_back(t.tid);
  for (auto& v : vmm.vcpus) {
    if (v.tid) continue;
    auto it = named.find(v.id);
    if (it == named.end() || it->second.size() != 1) continue;
    const pid_t tid = it->second.front();
    const bool busy = std::any_of(vmm.vcpus.begin(), vmm.vcpus.end(), [&](const VcpuEntry& o) { return o.tid == tid; });
    if (!busy) assign_thread(vmm, v, tid, ThreadSource::Name);
  }
}

}  // namespace

std::vector<ThreadEntry> threads_of(const TreeReader& proc, pid_t pid) {
  std::vector<ThreadEntry> out;
  auto tasks = proc.list(fmt::format("{}/task", pid));
  if (!tasks) return out;
  for (pid_t tid : decimal_names<pid_t>(*tasks)) {
    ThreadEntry t;
    t.tid = tid;
    auto comm = proc.read_file(fmt::format("{}/task/{}/comm", pid, tid));
    if (comm) t.name = strip_line_end(*comm);
    auto stat = proc.read_file(fmt::format("{}/task/{}/stat", pid, tid));
    auto flags = stat ? parse_stat_flags(*stat) : std::nullopt;
    t.worker = flags && (*flags & (kPfIoWorker | kPfUserWorker | kPfKthread)) != 0;
    out.push_back(std::move(t));
  }
  return out;
}

void attribute_threads(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, VmmEntry& vmm) {
  from_kvm_run(proc, ioctl_nr, vmm);
  from_debugfs(debugfs, vmm);
  from_names(vmm);
}

std::optional<unsigned> vcpu_from_thread_name(std::string_view name) {
  std::string n(name);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // QEMU: "CPU 3/KVM" (TCG threads, "CPU 3/TCG", are not vCPUs of KVM).
  const bool qemu = n.size() > 4 && n.compare(n.size() - 4, 4, "/kvm") == 0 && n.compare(0, 4, "cpu ") == 0;
  if (qemu) return parse_decimal<unsigned>(std::string_view(n).substr(4, n.size() - 8));
  // "vcpu3", "vcpu 3", "fc_vcpu 3", "crosvm_vcpu3": the number right after "vcpu".
  auto at = n.find("vcpu");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(n).substr(at + 4);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '_')) rest.remove_prefix(1);
  std::size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  if (digits == 0 || digits != rest.size()) return std::nullopt;
  return parse_decimal<unsigned>(rest);
}

bool is_user_thread(const VmmEntry& vmm, pid_t tid) {
  return std::any_of(vmm.threads.begin(), vmm.threads.end(),
                     [&](const ThreadEntry& t) { return t.tid == tid && !t.worker; });
}

void assign_thread(const VmmEntry& vmm, VcpuEntry& vcpu, pid_t tid, ThreadSource how) {
  vcpu.tid = tid;
  vcpu.thread_name.clear();
  for (const auto& t : vmm.threads)
    if (t.tid == tid) vcpu.thread_name = t.name;
  vcpu.thread_source = how;
}

}  // namespace svedbg::kvm
