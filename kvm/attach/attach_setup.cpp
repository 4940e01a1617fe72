// The read-only steps of attaching to a VMM (see attach_setup.hpp).
#include "kvm/attach/attach_setup.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include <fmt/format.h>

#include "kvm/attach/attach_backend.hpp"
#include "kvm/attach/inject_batch.hpp"
#include "kvm/attach/vmm_proc.hpp"

namespace svedbg::kvm {

std::vector<VmmVcpu> unique_vcpus(std::vector<VmmVcpu> vcpus, pid_t pid, const LogFn& log) {
  std::sort(vcpus.begin(), vcpus.end(),
            [](const VmmVcpu& x, const VmmVcpu& y) { return x.id != y.id ? x.id < y.id : x.fd < y.fd; });
  // A VMM may hold a vCPU twice (a dup()'ed fd, e.g. for its own mmap).
  for (std::size_t i = 1; i < vcpus.size();) {
    if (vcpus[i].id == vcpus[i - 1].id) {
      log(fmt::format("pid {}: kvm-vcpu:{} is open as fd {} and fd {}; using fd {}", pid, vcpus[i].id, vcpus[i - 1].fd,
                      vcpus[i].fd, vcpus[i - 1].fd));
      vcpus.erase(vcpus.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  return vcpus;
}

Result<std::vector<VmmVcpu>> find_vcpu_fds(pid_t pid, const LogFn& log) {
  const std::string fd_dir = fmt::format("/proc/{}/fd", pid);
  DIR* d = ::opendir(fd_dir.c_str());
  if (!d) {
    const int err = errno;
    if (err == EACCES)
      return make_error(EACCES, "cannot read {} (pid {} is {}): {}", fd_dir, pid, comm_of(pid),
                        ptrace_denied_reason(pid));
    return make_error(err, "cannot read {}: {}", fd_dir, std::strerror(err));
  }
  std::vector<VmmVcpu> vcpus;
  bool vm_fd = false;
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char target[256] = {};
    const ssize_t n = ::readlink(fmt::format("{}/{}", fd_dir, e->d_name).c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    auto link = parse_fd_link(std::string_view(target, static_cast<std::size_t>(n)));
    if (link.kind == FdKind::Vm) vm_fd = true;
    if (link.kind == FdKind::Vcpu)
      vcpus.push_back(VmmVcpu{link.vcpu_id, static_cast<int>(std::strtol(e->d_name, nullptr, 10)), 0, {}, {}});
  }
  ::closedir(d);
  if (vcpus.empty())
    return make_error(ENODEV, "pid {} ({}) is not a KVM VMM: it has no vCPU fds (anon_inode:kvm-vcpu:N in {}){}", pid,
                      comm_of(pid), fd_dir, vm_fd ? "; it has a VM fd but no vCPUs yet" : "");
  return unique_vcpus(std::move(vcpus), pid, log);
}

void find_kvm_run_maps(std::vector<VmmVcpu>& vcpus, const std::vector<MapEntry>& maps) {
  for (auto& v : vcpus) {
    const std::string name = fmt::format("anon_inode:kvm-vcpu:{}", v.id);
    for (const auto& m : maps)
      if (m.path == name && m.offset == 0) v.run = m.start;
  }
}

std::optional<std::uint64_t> find_syscall_site(const std::vector<MapEntry>& maps, const PeekFn& peek) {
  std::vector<std::byte> code(64 * 1024);
  for (const auto& m : maps) {
    if (!m.exec || !m.read) continue;
    for (std::uint64_t a = m.start; a < m.end; a += code.size()) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(code.size(), m.end - a));
      if (!peek(a, code.data(), n)) break;
      if (auto at = find_svc(std::span<const std::byte>(code.data(), n))) return a + *at;
    }
  }
  return std::nullopt;
}

std::optional<LoopCave> find_loop_cave(const std::vector<MapEntry>& maps, std::uint64_t page_size, const PeekFn& peek) {
  constexpr std::size_t kBytes = 4 * batch::kLoopCode.size();
  auto cave = find_code_cave(maps, kBytes, page_size, peek);
  if (!cave) return std::nullopt;
  LoopCave out{*cave, std::vector<std::byte>(kBytes)};
  if (!peek(out.cave.addr, out.own_bytes.data(), out.own_bytes.size())) return std::nullopt;
  return out;
}

Result<std::vector<RamRange>> find_guest_ram(pid_t pid, const std::vector<RamRange>& given,
                                             const std::vector<MapEntry>& maps, const LogFn& log) {
  std::vector<RamRange> ram;
  if (given.empty()) ram = guest_ram_from_maps(maps);
  for (const auto& spec : given) {  // --mem: HVA checked, or found by size
    auto r = resolve_guest_ram(spec, maps);
    if (!r) return make_error(r.error().code, "pid {}: {}", pid, r.error().message);
    ram.push_back(*r);
  }
  std::sort(ram.begin(), ram.end(), [](const auto& x, const auto& y) { return x.gpa < y.gpa; });
  if (ram.empty())
    log(
        fmt::format("pid {}: guest RAM not found in its mappings; memory reads fail until given with "
                    "--mem GPA:SIZE[@HVA]",
                    pid));
  return ram;
}

AttachedVcpu attached_vcpu(const VmmVcpu& v, std::optional<pid_t> thread, std::optional<std::uint64_t> zcr) {
  AttachedVcpu out;
  out.id = v.id;
  out.fd = v.fd;
  out.thread = thread.value_or(0);
  out.vls = v.vls;
  if (v.vls && zcr) out.effective_vq = effective_vq(*v.vls, *zcr);
  return out;
}

}  // namespace svedbg::kvm
