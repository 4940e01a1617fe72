// kvm/vmm_scan: the KVM VMMs on this host, as `svedbg ps` lists them.
//
// Contract:
//  - scan_vmms() reads a /proc tree (ScanOptions::proc_root, default /proc;
//    tests pass a fake tree) and stops nothing. A process is a VMM when
//    /proc/PID/fd holds a VM fd (anon_inode:kvm-vm) or vCPU fds
//    (anon_inode:kvm-vcpu:N; kvm/proc_parse.hpp). vCPUs are listed in
//    ascending N (the order AttachBackend serves them in), VMMs in ascending
//    pid. Several fds of one kvm-vcpu:N (dup'ed, e.g. by an mmap wrapper)
//    are one vCPU, unless the process has several VM fds (then the fds may
//    be vCPUs of different VMs, which /proc cannot tell apart: one row each). Kernel threads (PF_KTHREAD in /proc/PID/stat) are skipped and not
//    counted; processes that vanish during the scan are skipped.
//  - The thread running each vCPU, from the first source that tells:
//      kvm_run  the one thread of the VMM blocked in ioctl(fd, KVM_RUN) on
//               the vCPU's fd (/proc/PID/task/TID/syscall; the host's ioctl
//               number, ScanOptions::ioctl_nr). A thread running guest code
//               reads "running" there, so this names idle vCPUs only. Kernel
//               workers of the process (PF_USER_WORKER/PF_IO_WORKER in
//               task/TID/stat, e.g. x86 KVM's kvm-nx-lpage-recovery, forked
//               from a vCPU thread inside KVM_RUN) show their creator's
//               call there and are never taken, for any source;
//      attach   with --vl: the thread AttachBackend saw leave KVM_RUN when
//               it stopped the VMM (merge_vector_lengths);
//      debugfs  KVM's debugfs, DEBUGFS/kvm/CREATOR-VMFD/vcpuN/pid: the last
//               thread that ran KVM_RUN on it (root, debugfs mounted), if
//               that thread belongs to the VMM;
//      name     a thread named for vCPU N: QEMU's "CPU N/KVM", "vcpuN",
//               "fc_vcpu N" (Firecracker), "crosvm_vcpuN": a guess that
//               QEMU's cpu index is the KVM vCPU id (true on arm64).
//  - A process whose /proc/PID/fd cannot be read (EACCES: another user's,
//    or not dumpable) is counted in `unreadable`; if it looks like a VMM
//    (looks_like_vmm: its name or a thread's name) it is also listed in
//    `unreadable_vmms` with the reason.
//  - merge_vector_lengths() adds what a VlReader tells per VMM (the
//    `--vl` option): VLS, effective VL = kvm::effective_vq(VLS, ZCR_EL1),
//    or why not. attach_vl_reader() is that reader on arm64: it attaches
//    with kvm::AttachBackend (ptrace: the VMM stops for a moment), reads
//    KVM_REG_ARM64_SVE_VLS (the backend's copy) and ZCR_EL1 per vCPU, takes
//    the vCPU threads from `monitor attach` (if that stop did not tell,
//    it lets the VMM go and stops it once more, detach + interrupt, as for
//    a new gdb client) and detaches, leaving the VMM running as it was. On
//    other hosts it is empty (no SVE: VL columns stay "-").
//  - format_text(): one row per vCPU (a VMM without vCPUs gets one row);
//    format_json(): the same for scripts, fields in kPsJsonHelp.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "kvm/vls.hpp"

namespace svedbg::kvm {

// Read access to a directory tree such as /proc (paths relative to root).
// Virtual so tests can inject errors a root-run test cannot produce.
class TreeReader {
 public:
  explicit TreeReader(std::string root) : root_(std::move(root)) {}
  virtual ~TreeReader() = default;
  const std::string& root() const { return root_; }
  std::string path(std::string_view rel) const;

  // Entry names (without . and ..); errno in the error code.
  virtual Result<std::vector<std::string>> list(const std::string& rel) const;
  virtual Result<std::string> read_link(const std::string& rel) const;
  virtual Result<std::string> read_file(const std::string& rel) const;

 private:
  std::string root_;
};

enum class ThreadSource { None, KvmRun, Attach, Debugfs, Name };
std::string_view to_string(ThreadSource s);

struct VcpuEntry {
  unsigned id = 0;       // kvm-vcpu:N
  std::vector<int> fds;  // the VMM's fds for it, ascending (more than one: dup'ed)
  int fd() const { return fds.empty() ? -1 : fds.front(); }
  std::optional<pid_t> tid;
  std::string thread_name;  // /proc/PID/task/TID/comm
  ThreadSource thread_source = ThreadSource::None;
  // With --vl (merge_vector_lengths):
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
  std::string vl_error;              // --vl: the VMM could not be attached
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
  bool vl_supported = false;  // this build can read VLs (arm64)
  std::string vl_note;        // e.g. why --vl reads nothing on this host
};

struct ScanOptions {
  std::string proc_root = "/proc";
  std::string debugfs_root = "/sys/kernel/debug";  // KVM's files in ROOT/kvm
  long ioctl_nr = -1;                              // -1: this host's __NR_ioctl
  long self_uid = -1;                              // -1: geteuid(); reasons say "another user's" against it
};

Result<VmmScan> scan_vmms(const ScanOptions& options = {});
// The same over given trees (tests inject errors through TreeReader).
Result<VmmScan> scan_vmms(const TreeReader& proc, const TreeReader& debugfs, long ioctl_nr, long self_uid);

// A process or thread name that says VMM: qemu-system-*, qemu-kvm,
// firecracker, cloud-hypervisor, crosvm, lkvm, svedbg-vmm, ... (the
// basename of argv[0] counts too); or a vCPU thread name (vcpu_from_thread_name).
bool looks_like_vmm(std::string_view comm, const std::vector<std::string>& cmdline,
                    const std::vector<std::string>& thread_names);
// The vCPU index a thread name states: "CPU 3/KVM" (QEMU), "vcpu3",
// "fc_vcpu 3", "crosvm_vcpu3"; nullopt otherwise ("CPU 0/TCG" included).
std::optional<unsigned> vcpu_from_thread_name(std::string_view name);

// What attaching tells about one vCPU.
struct VcpuVl {
  unsigned id = 0;           // kvm-vcpu:N
  std::optional<pid_t> tid;  // the thread seen leaving KVM_RUN, if known
  bool sve = false;
  VqSet vls;
  unsigned effective_vq = 0;
  std::string error;  // non-empty: sve/vls/effective_vq not read
};
using VlReader = std::function<Result<std::vector<VcpuVl>>(const VmmEntry& vmm)>;

// Calls `reader` once per VMM (in pid order) and records the result.
void merge_vector_lengths(VmmScan& scan, const VlReader& reader);
// arm64: AttachBackend, as above; elsewhere an empty function.
VlReader attach_vl_reader();

// The "vCPU I: kvm-vcpu:N fd F thread T ..." lines of AttachBackend's
// `monitor attach` text: (I, N, T or nullopt for "?").
struct AttachLine {
  unsigned index = 0;
  unsigned id = 0;
  std::optional<pid_t> tid;
  bool operator==(const AttachLine&) const = default;
};
std::vector<AttachLine> parse_attach_vcpus(std::string_view monitor_text);

std::string format_text(const VmmScan& scan);
std::string format_json(const VmmScan& scan);

// The JSON fields, for `svedbg ps --help`.
extern const char* const kPsJsonHelp;

}  // namespace svedbg::kvm
