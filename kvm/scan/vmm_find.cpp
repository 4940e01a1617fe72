// Finding the KVM VMMs in /proc (see vmm_find.hpp).
#include "kvm/scan/vmm_find.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "kvm/proc_parse.hpp"
#include "kvm/scan/vcpu_threads.hpp"

namespace svedbg::kvm {
namespace {

bool vanished(int code) { return code == ENOENT || code == ESRCH; }

bool is_kernel_thread(const Result<std::string>& stat) {
  auto flags = stat ? parse_stat_flags(*stat) : std::nullopt;
  return flags && (*flags & kPfKthread) != 0;
}

std::string unreadable_reason(int code, long uid, long self_uid) {
  if (code == EACCES || code == EPERM) {
    const char* hint = "run svedbg ps as root (CAP_SYS_PTRACE) to inspect it";
    if (uid >= 0 && uid != self_uid) return fmt::format("another user's process (uid {}): {}", uid, hint);
    return fmt::format("not dumpable (its /proc/PID/fd is root's): {}", hint);
  }
  return std::strerror(code);
}

// What every process shows, VMM or not.
struct ProcessInfo {
  pid_t pid = 0;
  std::string comm;
  std::vector<std::string> cmdline;
  long uid = -1;
  pid_t tracer = 0;
};

ProcessInfo process_info(const TreeReader& proc, pid_t pid) {
  ProcessInfo info;
  info.pid = pid;
  auto comm = proc.read_file(fmt::format("{}/comm", pid));
  if (comm) info.comm = strip_line_end(*comm);
  auto cmdline = proc.read_file(fmt::format("{}/cmdline", pid));
  if (cmdline) info.cmdline = parse_cmdline(*cmdline);
  if (auto status = proc.read_file(fmt::format("{}/status", pid))) {
    info.uid = status_number(*status, "Uid").value_or(-1);
    info.tracer = static_cast<pid_t>(status_number(*status, "TracerPid").value_or(0));
  }
  return info;
}

// The VM fds and vCPUs among a process's fds (vCPUs ascending by id, dup'ed
// fds of one vCPU merged when the process has at most one VM).
void read_kvm_fds(const TreeReader& proc, pid_t pid, const std::vector<std::string>& fds, VmmEntry& vmm) {
  for (int fd : decimal_names<int>(fds)) {
    auto target = proc.read_link(fmt::format("{}/fd/{}", pid, fd));
    if (!target) continue;
    auto link = parse_fd_link(*target);
    if (link.kind == FdKind::Vm) vmm.vm_fds.push_back(fd);
    if (link.kind == FdKind::Vcpu) {
      VcpuEntry v;
      v.id = link.vcpu_id;
      v.fds.push_back(fd);
      vmm.vcpus.push_back(std::move(v));
    }
  }
  std::stable_sort(vmm.vcpus.begin(), vmm.vcpus.end(),
                   [](const VcpuEntry& a, const VcpuEntry& b) { return a.id < b.id; });
  if (vmm.vm_fds.size() > 1) return;  // fds of one kvm-vcpu:N may belong to different VMs
  std::vector<VcpuEntry> merged;
  for (auto& v : vmm.vcpus) {
    if (!merged.empty() && merged.back().id == v.id)
      merged.back().fds.push_back(v.fd());
    else
      merged.push_back(std::move(v));
  }
  vmm.vcpus = std::move(merged);
}

void note_unreadable(const TreeReader& proc, const ProcessInfo& info, int code, long self_uid, VmmScan& scan) {
  ++scan.unreadable;
  std::vector<std::string> names;
  for (auto& t : threads_of(proc, info.pid)) names.push_back(std::move(t.name));
  if (looks_like_vmm(info.comm, info.cmdline, names))
    scan.unreadable_vmms.push_back(
        UnreadableProcess{info.pid, info.comm, info.uid, unreadable_reason(code, info.uid, self_uid)});
}

std::optional<VmmEntry> read_vmm(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, ProcessInfo info,
                                 const std::vector<std::string>& fds) {
  VmmEntry vmm;
  read_kvm_fds(proc, info.pid, fds, vmm);
  if (vmm.vm_fds.empty() && vmm.vcpus.empty()) return std::nullopt;
  vmm.pid = info.pid;
  vmm.comm = std::move(info.comm);
  vmm.cmdline = std::move(info.cmdline);
  vmm.uid = info.uid;
  vmm.tracer = info.tracer;
  if (vmm.tracer > 0) {
    auto tc = proc.read_file(fmt::format("{}/comm", vmm.tracer));
    vmm.tracer_comm = tc ? strip_line_end(*tc) : std::string();
  }
  vmm.threads = threads_of(proc, vmm.pid);
  attribute_threads(proc, debugfs, ioctl_nr, vmm);
  return vmm;
}

}  // namespace

bool looks_like_vmm(std::string_view comm, const std::vector<std::string>& cmdline,
                    const std::vector<std::string>& thread_names) {
  // (comm is cut at 15 characters: "cloud-hyperviso".)
  static constexpr std::string_view kNames[] = {"qemu-kvm",        "kvm",    "firecracker", "cloud-hypervisor",
                                                "cloud-hyperviso", "crosvm", "lkvm",        "kvmtool",
                                                "svedbg-vmm",      "vmm"};
  auto known = [](std::string_view name) {
    std::string n(name);
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (n.compare(0, 12, "qemu-system-") == 0) return true;
    return std::any_of(std::begin(kNames), std::end(kNames), [&](std::string_view k) { return n == k; });
  };
  auto basename = [](std::string_view path) {
    auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
  };
  if (known(comm)) return true;
  if (!cmdline.empty() && known(basename(cmdline.front()))) return true;
  return std::any_of(thread_names.begin(), thread_names.end(),
                     [](const std::string& t) { return vcpu_from_thread_name(t).has_value(); });
}

Result<VmmScan> scan_vmms(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, long self_uid) {
  auto top = proc.list("");
  if (!top) return top.error();
  VmmScan scan;
  for (pid_t pid : decimal_names<pid_t>(*top)) {
    if (is_kernel_thread(proc.read_file(fmt::format("{}/stat", pid)))) continue;
    auto fds = proc.list(fmt::format("{}/fd", pid));
    if (!fds && vanished(fds.error().code)) continue;
    ++scan.processes;
    ProcessInfo info = process_info(proc, pid);
    if (!fds) {
      note_unreadable(proc, info, fds.error().code, self_uid, scan);
      continue;
    }
    if (auto vmm = read_vmm(proc, debugfs, ioctl_nr, std::move(info), *fds)) scan.vmms.push_back(std::move(*vmm));
  }
  return scan;
}

Result<VmmScan> scan_vmms(const ScanOptions& options) {
  const long nr = options.ioctl_nr >= 0 ? options.ioctl_nr : static_cast<long>(SYS_ioctl);
  const long uid = options.self_uid >= 0 ? options.self_uid : static_cast<long>(::geteuid());
  return scan_vmms(TreeReader(options.proc_root), TreeReader(options.debugfs_root), nr, uid);
}

}  // namespace svedbg::kvm
