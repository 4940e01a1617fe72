// The KVM VMMs on this host (see vmm_scan.hpp).
#include "kvm/scan/vmm_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>

#include <fmt/format.h>

#include "kvm/proc_parse.hpp"
#if defined(__aarch64__)
#include "kvm/attach/attach_backend.hpp"
#include "kvm/reg_id.hpp"
#endif

namespace svedbg::kvm {

// --- the tree -------------------------------------------------------------

std::string TreeReader::path(std::string_view rel) const {
  if (rel.empty()) return root_;
  return fmt::format("{}/{}", root_, rel);
}

Result<std::vector<std::string>> TreeReader::list(const std::string& rel) const {
  const std::string p = path(rel);
  DIR* d = ::opendir(p.c_str());
  if (!d) return make_error(errno, "cannot read {}: {}", p, std::strerror(errno));
  std::vector<std::string> out;
  errno = 0;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.emplace_back(e->d_name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return make_error(err, "cannot read {}: {}", p, std::strerror(err));
  return out;
}

Result<std::string> TreeReader::read_link(const std::string& rel) const {
  const std::string p = path(rel);
  std::string buf(256, '\0');
  for (;;) {
    const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
    if (n < 0) return make_error(errno, "cannot read link {}: {}", p, std::strerror(errno));
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

Result<std::string> TreeReader::read_file(const std::string& rel) const {
  const std::string p = path(rel);
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errno, "cannot open {}: {}", p, std::strerror(errno));
  std::string out;
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return make_error(err, "cannot read {}: {}", p, std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(n));
    if (out.size() > (1u << 20)) break;  // /proc files are small; a fake tree might not be
  }
  ::close(fd);
  return out;
}

std::string_view to_string(ThreadSource s) {
  switch (s) {
    case ThreadSource::KvmRun: return "kvm_run";
    case ThreadSource::Attach: return "attach";
    case ThreadSource::Debugfs: return "debugfs";
    case ThreadSource::Name: return "name";
    case ThreadSource::None: break;
  }
  return "-";
}

namespace {

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "Key:\tv1\tv2..." of /proc/PID/status: the first number.
std::optional<long> status_field(std::string_view status, std::string_view key) {
  while (!status.empty()) {
    auto nl = status.find('\n');
    std::string_view line = status.substr(0, nl);
    status = nl == std::string_view::npos ? std::string_view{} : status.substr(nl + 1);
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') continue;
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    auto end = line.find_first_of(" \t");
    return parse_number<long>(line.substr(0, end));
  }
  return std::nullopt;
}

// The flags field (9th) of /proc/PID/stat (after the comm, which may hold
// spaces and parentheses).
std::optional<unsigned long> stat_flags(std::string_view stat) {
  auto close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // state ppid pgrp session tty_nr tpgid flags
  for (int field = 0; field < 7; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    auto end = rest.find(' ');
    if (field == 6) return parse_number<unsigned long>(rest.substr(0, end));
    if (end == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

// include/linux/sched.h
constexpr unsigned long kPfIoWorker = 0x00000010;
constexpr unsigned long kPfUserWorker = 0x00004000;
constexpr unsigned long kPfKthread = 0x00200000;

bool is_kernel_thread(std::string_view stat) {
  auto f = stat_flags(stat);
  return f && (*f & kPfKthread) != 0;
}

std::vector<std::string> split_nul(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto z = s.find('\0');
    out.emplace_back(s.substr(0, z));
    if (z == std::string_view::npos) break;
    s.remove_prefix(z + 1);
  }
  return out;
}

bool vanished(int code) { return code == ENOENT || code == ESRCH; }

template <typename T>
std::vector<T> numeric_entries(const std::vector<std::string>& names) {
  std::vector<T> out;
  for (const auto& n : names)
    if (auto v = parse_number<T>(n)) out.push_back(*v);
  std::sort(out.begin(), out.end());
  return out;
}

// The threads of a process, ascending TID.
std::vector<ThreadEntry> threads_of(const TreeReader& proc, const std::string& pid) {
  std::vector<ThreadEntry> out;
  auto tasks = proc.list(pid + "/task");
  if (!tasks) return out;
  for (pid_t tid : numeric_entries<pid_t>(*tasks)) {
    ThreadEntry t;
    t.tid = tid;
    auto comm = proc.read_file(fmt::format("{}/task/{}/comm", pid, tid));
    if (comm) t.name = chomp(*comm);
    auto stat = proc.read_file(fmt::format("{}/task/{}/stat", pid, tid));
    auto flags = stat ? stat_flags(*stat) : std::nullopt;
    t.worker = flags && (*flags & (kPfIoWorker | kPfUserWorker | kPfKthread)) != 0;
    out.push_back(std::move(t));
  }
  return out;
}

// A user thread of the VMM (not one of its kernel workers).
bool has_thread(const VmmEntry& vmm, pid_t tid) {
  return std::any_of(vmm.threads.begin(), vmm.threads.end(),
                     [&](const ThreadEntry& t) { return t.tid == tid && !t.worker; });
}

std::string thread_name(const VmmEntry& vmm, pid_t tid) {
  for (const auto& t : vmm.threads)
    if (t.tid == tid) return t.name;
  return {};
}

void assign(VmmEntry& vmm, VcpuEntry& v, pid_t tid, ThreadSource how) {
  v.tid = tid;
  v.thread_name = thread_name(vmm, tid);
  v.thread_source = how;
}

// Who runs each vCPU (the sources in vmm_scan.hpp, in that order).
void attribute_threads(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, VmmEntry& vmm) {
  const std::string pid = std::to_string(vmm.pid);
  // 1. Blocked in KVM_RUN on the vCPU's fd: the one thread that is (a
  // second one would be waiting for the vCPU's mutex inside the same call).
  std::map<std::uint64_t, std::vector<pid_t>> in_run;  // fd -> threads
  for (const auto& t : vmm.threads) {
    if (t.worker) continue;
    auto text = proc.read_file(fmt::format("{}/task/{}/syscall", pid, t.tid));
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
    if (running.size() == 1) assign(vmm, v, *running.begin(), ThreadSource::KvmRun);
  }
  // 2. KVM's debugfs: kvm/CREATOR-VMFD/vcpuN/pid.
  const bool need_more = std::any_of(vmm.vcpus.begin(), vmm.vcpus.end(), [](const VcpuEntry& v) { return !v.tid; });
  if (need_more && !vmm.vm_fds.empty()) {
    std::vector<std::string> dirs;
    if (auto entries = debugfs.list("kvm")) {
      for (const auto& e : *entries) {
        auto dash = e.find('-');
        if (dash == std::string::npos) continue;
        auto creator = parse_number<pid_t>(std::string_view(e).substr(0, dash));
        auto fd = parse_number<int>(std::string_view(e).substr(dash + 1));
        if (!creator || !fd) continue;
        if (*creator != vmm.pid && !has_thread(vmm, *creator)) continue;
        if (std::find(vmm.vm_fds.begin(), vmm.vm_fds.end(), *fd) == vmm.vm_fds.end()) continue;
        dirs.push_back("kvm/" + e);
      }
    }
    for (auto& v : vmm.vcpus) {
      if (v.tid) continue;
      std::set<pid_t> seen;
      for (const auto& d : dirs) {
        auto text = debugfs.read_file(fmt::format("{}/vcpu{}/pid", d, v.id));
        if (!text) continue;
        auto tid = parse_number<pid_t>(chomp(*text));
        if (tid && *tid > 0 && has_thread(vmm, *tid)) seen.insert(*tid);
      }
      if (seen.size() == 1) assign(vmm, v, *seen.begin(), ThreadSource::Debugfs);
    }
  }
  // 3. A thread named for the vCPU, if it is the only one and runs no other.
  std::map<unsigned, std::vector<pid_t>> named;
  for (const auto& t : vmm.threads)
    if (auto n = vcpu_from_thread_name(t.name); n && !t.worker) named[*n].push_back(t.tid);
  for (auto& v : vmm.vcpus) {
    if (v.tid) continue;
    auto it = named.find(v.id);
    if (it == named.end() || it->second.size() != 1) continue;
    const pid_t tid = it->second.front();
    const bool busy = std::any_of(vmm.vcpus.begin(), vmm.vcpus.end(), [&](const VcpuEntry& o) { return o.tid == tid; });
    if (!busy) assign(vmm, v, tid, ThreadSource::Name);
  }
}

std::string unreadable_reason(int code, long uid, long self_uid) {
  if (code == EACCES || code == EPERM) {
    const char* hint = "run svedbg ps as root (CAP_SYS_PTRACE) to inspect it";
    if (uid >= 0 && uid != self_uid) return fmt::format("another user's process (uid {}): {}", uid, hint);
    return fmt::format("not dumpable (its /proc/PID/fd is root's): {}", hint);
  }
  return std::strerror(code);
}

}  // namespace

std::optional<unsigned> vcpu_from_thread_name(std::string_view name) {
  const std::string n = lower(name);
  // QEMU: "CPU 3/KVM" (TCG threads, "CPU 3/TCG", are not vCPUs of KVM).
  const bool qemu = n.size() > 4 && n.compare(n.size() - 4, 4, "/kvm") == 0 && n.compare(0, 4, "cpu ") == 0;
  if (qemu) return parse_number<unsigned>(std::string_view(n).substr(4, n.size() - 8));
  // "vcpu3", "vcpu 3", "fc_vcpu 3", "crosvm_vcpu3": the number right after "vcpu".
  auto at = n.find("vcpu");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(n).substr(at + 4);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '_')) rest.remove_prefix(1);
  std::size_t digits = 0;
  while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
  if (digits == 0 || digits != rest.size()) return std::nullopt;
  return parse_number<unsigned>(rest);
}

bool looks_like_vmm(std::string_view comm, const std::vector<std::string>& cmdline,
                    const std::vector<std::string>& thread_names) {
  // (comm is cut at 15 characters: "cloud-hyperviso".)
  static constexpr std::string_view kNames[] = {"qemu-kvm",        "kvm",    "firecracker", "cloud-hypervisor",
                                                "cloud-hyperviso", "crosvm", "lkvm",        "kvmtool",
                                                "svedbg-vmm",      "vmm"};
  auto known = [](std::string_view name) {
    const std::string n = lower(name);
    if (n.compare(0, 12, "qemu-system-") == 0) return true;
    return std::any_of(std::begin(kNames), std::end(kNames), [&](std::string_view k) { return n == k; });
  };
  if (known(comm)) return true;
  if (!cmdline.empty() && known(basename_of(cmdline.front()))) return true;
  return std::any_of(thread_names.begin(), thread_names.end(),
                     [](const std::string& t) { return vcpu_from_thread_name(t).has_value(); });
}

Result<VmmScan> scan_vmms(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, long self_uid) {
  auto top = proc.list("");
  if (!top) return top.error();
  VmmScan scan;
#if defined(__aarch64__)
  scan.vl_supported = true;
#endif
  for (pid_t pid : numeric_entries<pid_t>(*top)) {
    const std::string p = std::to_string(pid);
    auto stat = proc.read_file(p + "/stat");
    if (stat && is_kernel_thread(*stat)) continue;
    auto fds = proc.list(p + "/fd");
    if (!fds && vanished(fds.error().code)) continue;
    ++scan.processes;
    auto comm_text = proc.read_file(p + "/comm");
    const std::string comm = comm_text ? chomp(*comm_text) : std::string();
    auto cmdline_text = proc.read_file(p + "/cmdline");
    const auto cmdline = cmdline_text ? split_nul(*cmdline_text) : std::vector<std::string>{};
    auto status = proc.read_file(p + "/status");
    const long uid = status ? status_field(*status, "Uid").value_or(-1) : -1;
    if (!fds) {
      ++scan.unreadable;
      std::vector<std::string> names;
      for (auto& t : threads_of(proc, p)) names.push_back(std::move(t.name));
      if (looks_like_vmm(comm, cmdline, names))
        scan.unreadable_vmms.push_back(
            UnreadableProcess{pid, comm, uid, unreadable_reason(fds.error().code, uid, self_uid)});
      continue;
    }
    VmmEntry vmm;
    for (int fd : numeric_entries<int>(*fds)) {
      auto target = proc.read_link(fmt::format("{}/fd/{}", p, fd));
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
    if (vmm.vm_fds.empty() && vmm.vcpus.empty()) continue;
    std::stable_sort(vmm.vcpus.begin(), vmm.vcpus.end(),
                     [](const VcpuEntry& a, const VcpuEntry& b) { return a.id < b.id; });
    if (vmm.vm_fds.size() <= 1) {  // one VM: fds of one kvm-vcpu:N are dups of one vCPU
      std::vector<VcpuEntry> merged;
      for (auto& v : vmm.vcpus) {
        if (!merged.empty() && merged.back().id == v.id)
          merged.back().fds.push_back(v.fd());
        else
          merged.push_back(std::move(v));
      }
      vmm.vcpus = std::move(merged);
    }
    vmm.pid = pid;
    vmm.comm = comm;
    vmm.cmdline = cmdline;
    vmm.uid = uid;
    if (status) vmm.tracer = static_cast<pid_t>(status_field(*status, "TracerPid").value_or(0));
    if (vmm.tracer > 0) {
      auto tc = proc.read_file(fmt::format("{}/comm", vmm.tracer));
      vmm.tracer_comm = tc ? chomp(*tc) : std::string();
    }
    vmm.threads = threads_of(proc, p);
    attribute_threads(proc, debugfs, ioctl_nr, vmm);
    scan.vmms.push_back(std::move(vmm));
  }
  return scan;
}

Result<VmmScan> scan_vmms(const ScanOptions& options) {
  const long nr = options.ioctl_nr >= 0 ? options.ioctl_nr : static_cast<long>(SYS_ioctl);
  const long uid = options.self_uid >= 0 ? options.self_uid : static_cast<long>(::geteuid());
  return scan_vmms(TreeReader(options.proc_root), TreeReader(options.debugfs_root), nr, uid);
}

// --- vector lengths (--vl) --------------------------------------------------

void merge_vector_lengths(VmmScan& scan, const VlReader& reader) {
  scan.vl_requested = true;
  if (!reader) return;
  for (auto& vmm : scan.vmms) {
    if (vmm.vcpus.empty()) continue;
    auto r = reader(vmm);
    if (!r) {
      vmm.vl_error = r.error().message;
      continue;
    }
    for (auto& v : vmm.vcpus) {
      auto it = std::find_if(r->begin(), r->end(), [&](const VcpuVl& x) { return x.id == v.id; });
      if (it == r->end()) {
        v.vl_error = "not found when attached";
        continue;
      }
      // A dup'ed vCPU fd is one more entry of the same vCPU: any of them may know the thread.
      auto known = std::find_if(r->begin(), r->end(), [&](const VcpuVl& x) { return x.id == v.id && x.tid; });
      if (known != r->end() && has_thread(vmm, *known->tid) &&
          (v.thread_source != ThreadSource::KvmRun && v.thread_source != ThreadSource::Attach))
        assign(vmm, v, *known->tid, ThreadSource::Attach);
      if (!it->error.empty()) {
        v.vl_error = it->error;
        continue;
      }
      v.vl_read = true;
      v.sve = it->sve;
      v.vls = it->vls;
      v.effective_vq = it->sve ? it->effective_vq : 0;
    }
  }
}

std::vector<AttachLine> parse_attach_vcpus(std::string_view text) {
  std::vector<AttachLine> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    // vCPU I: kvm-vcpu:N fd F thread T|? ...
    std::vector<std::string_view> f;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && line[i] == ' ') ++i;
      std::size_t j = line.find(' ', i);
      if (j == std::string_view::npos) j = line.size();
      if (j > i) f.push_back(line.substr(i, j - i));
      i = j;
    }
    if (f.size() < 7 || f[0] != "vCPU" || f[1].empty() || f[1].back() != ':' || f[3] != "fd" || f[5] != "thread")
      continue;
    constexpr std::string_view kPrefix = "kvm-vcpu:";
    if (f[2].substr(0, kPrefix.size()) != kPrefix) continue;
    auto index = parse_number<unsigned>(f[1].substr(0, f[1].size() - 1));
    auto id = parse_number<unsigned>(f[2].substr(kPrefix.size()));
    if (!index || !id) continue;
    out.push_back(AttachLine{*index, *id, parse_number<pid_t>(f[6])});
  }
  return out;
}

#if defined(__aarch64__)
namespace {

// The "vCPU I: kvm-vcpu:N fd F thread T" lines of `monitor attach`, if
// they cover vCPUs 0..n-1 in order.
std::optional<std::vector<AttachLine>> attached_vcpus(AttachBackend& b) {
  auto ids = parse_attach_vcpus(format_attach_report(b.report()));
  if (ids.size() != b.vcpu_count()) return std::nullopt;
  for (unsigned i = 0; i < ids.size(); ++i)
    if (ids[i].index != i) return std::nullopt;
  return ids;
}

Result<std::vector<VcpuVl>> read_attached(const VmmEntry& vmm) {
  AttachOptions options;
  options.log = [](const std::string&) {};  // e.g. "guest RAM not found": not ps's business
  auto attached = AttachBackend::attach(vmm.pid, std::move(options));
  if (!attached) return attached.error();
  AttachBackend& b = **attached;
  const unsigned n = b.vcpu_count();
  auto ids = attached_vcpus(b);
  // Without `monitor attach` lines: the backend serves one vCPU per vCPU fd
  // in ascending kvm-vcpu:N, as the scan lists them.
  std::vector<unsigned> scanned;
  for (const auto& v : vmm.vcpus) scanned.insert(scanned.end(), v.fds.size(), v.id);
  if (!ids && n != scanned.size()) {
    b.detach();
    return make_error(EAGAIN, "its vCPUs changed while attaching ({} then {}); try again", scanned.size(), n);
  }
  std::vector<VcpuVl> out;
  for (unsigned i = 0; i < n; ++i) {
    VcpuVl v;
    v.id = ids ? (*ids)[i].id : scanned[i];
    if (ids) v.tid = (*ids)[i].tid;
    std::array<std::byte, kVlsBytes> vls{};
    if (auto s = b.get_one_reg(i, sve_vls(), vls); !s) {
      if (s.error().code != ENOENT) v.error = s.error().message;
      out.push_back(std::move(v));  // ENOENT: no SVE
      continue;
    }
    v.sve = true;
    v.vls = VqSet::from_bytes(vls);
    std::array<std::byte, 8> zcr{};
    if (auto s = b.get_one_reg(i, zcr_el1(), zcr); !s) {
      v.error = s.error().message;
    } else {
      std::uint64_t value = 0;
      for (std::size_t k = 0; k < zcr.size(); ++k) value |= std::uint64_t(std::to_integer<unsigned>(zcr[k])) << (8 * k);
      v.effective_vq = effective_vq(v.vls, value);
    }
    out.push_back(std::move(v));
  }
  // The backend learns which thread runs a vCPU when it stops that thread
  // in KVM_RUN and can rewind the call; the stop of attach() does not always
  // tell (thread "?"). Then the VMM is let go and stopped once more, as for
  // each new gdb client (detach, interrupt), which does.
  const bool unknown = ids && std::any_of(ids->begin(), ids->end(), [](const AttachLine& a) { return !a.tid; });
  if (unknown) {
    b.detach();
    b.interrupt();
    if (b.poll_stop()) {
      if (auto again = attached_vcpus(b))
        for (unsigned i = 0; i < n; ++i)
          if ((*again)[i].id == out[i].id && (*again)[i].tid) out[i].tid = (*again)[i].tid;
    }
  }
  b.detach();
  return out;
}

}  // namespace

VlReader attach_vl_reader() { return read_attached; }
#else
VlReader attach_vl_reader() { return {}; }
#endif

// --- output -------------------------------------------------------------------

namespace {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        // Control bytes, and bytes >= 0x80 as Latin-1 (names need not be UTF-8).
        if (c < 0x20 || c >= 0x7f)
          out += fmt::format("\\u{:04x}", c);
        else
          out += ch;
    }
  }
  return out + "\"";
}

std::string json_opt_string(const std::string& s) { return s.empty() ? "null" : json_string(s); }

std::string vls_bits_json(const VqSet& vls) {
  std::string out = "[";
  for (unsigned vq : vls.list()) out += fmt::format("{}{}", out.size() > 1 ? ", " : "", vq * 128);
  return out + "]";
}

std::string vcpu_json(const VcpuEntry& v) {
  std::string out = fmt::format("{{\"id\": {}, \"fd\": {}, ", v.id, v.fd());
  if (v.fds.size() > 1) {
    out += "\"fds\": [";
    for (std::size_t k = 0; k < v.fds.size(); ++k) out += fmt::format("{}{}", k ? ", " : "", v.fds[k]);
    out += "], ";
  }
  if (v.tid)
    out += fmt::format("\"tid\": {}, \"thread_name\": {}, \"thread_source\": {}, ", *v.tid, json_string(v.thread_name),
                       json_string(to_string(v.thread_source)));
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

std::string cell_vls(const VmmEntry& vmm, const VcpuEntry& v) {
  if (!vmm.vl_error.empty() || !v.vl_error.empty() || !v.vl_read) return "-";
  return v.sve ? v.vls.to_string() : "no SVE";
}

std::string cell_vl(const VmmEntry& vmm, const VcpuEntry& v) {
  if (!vmm.vl_error.empty()) return "not read: " + vmm.vl_error;
  if (!v.vl_error.empty()) return "not read: " + v.vl_error;
  if (!v.vl_read || !v.sve) return "-";
  return fmt::format("{} bits", v.effective_vq * 128);
}

std::string join_ints(const std::vector<int>& v) {
  std::string out;
  for (int x : v) out += fmt::format("{}{}", out.empty() ? "" : ",", x);
  return out.empty() ? "-" : out;
}

}  // namespace

std::string format_text(const VmmScan& scan) {
  using Row = std::array<std::string, 10>;
  std::vector<std::pair<pid_t, Row>> rows;
  bool unknown_thread = false;
  for (const auto& vmm : scan.vmms) {
    const std::string pid = std::to_string(vmm.pid), vmfd = join_ints(vmm.vm_fds);
    if (vmm.vcpus.empty())
      rows.push_back({vmm.pid, Row{pid, vmm.comm, vmfd, "-", "-", "-", "-", "-", "-", "no vCPUs yet"}});
    for (const auto& v : vmm.vcpus) {
      unknown_thread |= !v.tid;
      rows.push_back({vmm.pid, Row{pid, vmm.comm, vmfd, std::to_string(v.id), join_ints(v.fds),
                                   v.tid ? std::to_string(*v.tid) : "?", v.tid ? v.thread_name : "-",
                                   std::string(to_string(v.thread_source)), cell_vls(vmm, v), cell_vl(vmm, v)}});
    }
  }
  for (const auto& u : scan.unreadable_vmms)
    rows.push_back(
        {u.pid, Row{std::to_string(u.pid), u.comm, "?", "?", "?", "?", "?", "-", "-", "not readable: " + u.reason}});
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string out;
  if (rows.empty()) {
    out += fmt::format("no KVM VMMs found (looked at {} processes)\n", scan.processes);
  } else {
    const Row header{"PID", "COMMAND", "VM FD", "VCPU", "FD", "TID", "THREAD", "SOURCE", "VLS", "VL"};
    std::array<std::size_t, 10> width{};
    for (std::size_t c = 0; c < width.size(); ++c) width[c] = header[c].size();
    for (const auto& [pid, r] : rows)
      for (std::size_t c = 0; c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
    auto line = [&](const Row& r) {
      std::string l;
      for (std::size_t c = 0; c < r.size(); ++c) {
        l += r[c];
        if (c + 1 < r.size()) l += std::string(width[c] - r[c].size() + 2, ' ');
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      out += l + "\n";
    };
    line(header);
    for (const auto& [pid, r] : rows) line(r);
  }
  for (const auto& vmm : scan.vmms)
    if (vmm.tracer > 0)
      out += fmt::format("pid {} ({}) is traced by pid {} ({})\n", vmm.pid, vmm.comm, vmm.tracer,
                         vmm.tracer_comm.empty() ? "?" : vmm.tracer_comm);
  if (unknown_thread)
    out +=
        "TID ?: a vCPU running guest code is not waiting in KVM_RUN; --vl (attach), or KVM's debugfs "
        "(root, debugfs mounted), tells its thread\n";
  const bool any_vcpu =
      std::any_of(scan.vmms.begin(), scan.vmms.end(), [](const VmmEntry& v) { return !v.vcpus.empty(); });
  if (any_vcpu && scan.vl_supported && !scan.vl_requested)
    out += "VLS, VL: `svedbg ps --vl` reads them (it stops each VMM for a moment with ptrace)\n";
  if (!scan.vl_note.empty()) out += scan.vl_note + "\n";
  const unsigned others = scan.unreadable - static_cast<unsigned>(scan.unreadable_vmms.size());
  if (others > 0)
    out += fmt::format(
        "{} {}process{} not readable (another user's or not dumpable): any VMM among them is not "
        "listed; run svedbg ps as root to see every VMM\n",
        others, scan.unreadable_vmms.empty() ? "" : "other ", others == 1 ? "" : "es");
  return out;
}

std::string format_json(const VmmScan& scan) {
  std::string out = "{\n  \"svedbg_ps\": 1,\n";
  out += fmt::format("  \"processes\": {},\n  \"unreadable\": {},\n  \"vl_requested\": {},\n", scan.processes,
                     scan.unreadable, scan.vl_requested ? "true" : "false");
  out += "  \"vmms\": [";
  for (std::size_t i = 0; i < scan.vmms.size(); ++i) {
    const auto& vmm = scan.vmms[i];
    out += i ? ",\n    {" : "\n    {";
    out += fmt::format("\"pid\": {}, \"comm\": {}, \"cmdline\": [", vmm.pid, json_string(vmm.comm));
    for (std::size_t k = 0; k < vmm.cmdline.size(); ++k) out += (k ? ", " : "") + json_string(vmm.cmdline[k]);
    out += fmt::format("], \"uid\": {}, ", vmm.uid);
    if (vmm.tracer > 0)
      out += fmt::format("\"traced_by\": {{\"pid\": {}, \"comm\": {}}}, ", vmm.tracer, json_string(vmm.tracer_comm));
    else
      out += "\"traced_by\": null, ";
    out += "\"vm_fds\": [";
    for (std::size_t k = 0; k < vmm.vm_fds.size(); ++k) out += fmt::format("{}{}", k ? ", " : "", vmm.vm_fds[k]);
    out += "], \"threads\": [";
    for (std::size_t k = 0; k < vmm.threads.size(); ++k)
      out += fmt::format("{}{{\"tid\": {}, \"name\": {}{}}}", k ? ", " : "", vmm.threads[k].tid,
                         json_string(vmm.threads[k].name), vmm.threads[k].worker ? ", \"kernel_worker\": true" : "");
    out += fmt::format("],\n     \"vl_error\": {},\n     \"vcpus\": [", json_opt_string(vmm.vl_error));
    for (std::size_t k = 0; k < vmm.vcpus.size(); ++k)
      out += (k ? ",\n       " : "\n       ") + vcpu_json(vmm.vcpus[k]);
    out += "]}";
  }
  out += scan.vmms.empty() ? "],\n" : "\n  ],\n";
  out += "  \"unreadable_vmms\": [";
  for (std::size_t i = 0; i < scan.unreadable_vmms.size(); ++i) {
    const auto& u = scan.unreadable_vmms[i];
    out += fmt::format("{}\n    {{\"pid\": {}, \"comm\": {}, \"uid\": {}, \"reason\": {}}}", i ? "," : "", u.pid,
                       json_string(u.comm), u.uid, json_string(u.reason));
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
