// kvm/scan/: `svedbg ps` over fake /proc trees built in a temp dir (fd links
// pointing at "anon_inode:kvm-vcpu:N", task/TID/{syscall,comm}), with fake
// vCPU inspectors, on any host.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "kvm/scan/ps_json.hpp"
#include "kvm/scan/ps_text.hpp"
#include "kvm/scan/vcpu_inspect.hpp"
#include "kvm/scan/vcpu_threads.hpp"
#include "kvm/scan/vmm_find.hpp"

using namespace svedbg;
namespace fs = std::filesystem;

namespace {

constexpr long kArm64Ioctl = 29;
constexpr long kX86Ioctl = 16;
constexpr long kSelfUid = 0;

// /proc/PID/cmdline: the arguments, each NUL-terminated.
std::string argv(std::initializer_list<std::string> args) {
  std::string out;
  for (const auto& a : args) out += a + '\0';
  return out;
}

// A fake /proc (and debugfs) in a temp dir, removed at the end.
class FakeProc {
 public:
  FakeProc() {
    std::string tmpl = (fs::temp_directory_path() / "svedbg-vmm-scan.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    fs::create_directories(proc());
    fs::create_directories(debugfs());
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string proc() const { return dir_ + "/proc"; }
  std::string debugfs() const { return dir_ + "/debug"; }

  void file(const std::string& rel, const std::string& text, bool in_debugfs = false) {
    fs::path p = fs::path(in_debugfs ? debugfs() : proc()) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  // A process: comm, cmdline (NUL-separated), status with Uid/TracerPid,
  // stat (flags), an empty fd dir and its main thread.
  void process(int pid, const std::string& comm, const std::string& cmdline, long uid = 0, bool kthread = false,
               int tracer = 0) {
    const std::string p = std::to_string(pid);
    file(p + "/comm", comm + "\n");
    file(p + "/cmdline", cmdline);
    file(p + "/status", "Name:\t" + comm + "\nTracerPid:\t" + std::to_string(tracer) + "\nUid:\t" +
                            std::to_string(uid) + "\t" + std::to_string(uid) + "\t" + std::to_string(uid) + "\t" +
                            std::to_string(uid) + "\n");
    file(p + "/stat",
         p + " (" + comm + ") S 1 " + p + " " + p + " 0 -1 " + (kthread ? "2129984" : "4194560") + " 0 0 0 0\n");
    fs::create_directories(fs::path(proc()) / p / "fd");
    thread(pid, pid, comm, "-1 0xfffff0e0 0x40f1c8\n");
  }
  void fd(int pid, int fd, const std::string& target) {
    fs::path p = fs::path(proc()) / std::to_string(pid) / "fd" / std::to_string(fd);
    fs::create_directories(p.parent_path());
    fs::create_symlink(target, p);  // the target need not exist
  }
  // flags: /proc/PID/task/TID/stat's; 0x400040 is a user thread's
  // (PF_FORKNOEXEC|PF_RANDOMIZE), 0x404040 a kernel worker's (PF_USER_WORKER).
  void thread(int pid, int tid, const std::string& comm, const std::string& syscall, unsigned long flags = 0x400040) {
    const std::string t = std::to_string(pid) + "/task/" + std::to_string(tid);
    file(t + "/comm", comm + "\n");
    file(t + "/syscall", syscall);
    file(t + "/stat", fmt::format("{} ({}) S 1 {} {} 0 -1 {} 0 0 0 0\n", tid, comm, pid, pid, flags));
  }
  static std::string kvm_run(int fd) {
    return fmt::format("29 {:#x} 0xae80 0x0 0x0 0x0 0x0 0xffffa1b2e9f0 0x4a3c28\n", fd);
  }
  static std::string x86_kvm_run(int fd) {
    return fmt::format("16 {:#x} 0xae80 0x0 0x0 0x0 0x0 0x7ffd1230 0x4a3c28\n", fd);
  }

 private:
  std::string dir_;
};

// Reads the tree but answers EACCES for chosen paths, as /proc does for
// another user's /proc/PID/fd (a test running as root cannot chmod its way there).
class DenyingReader : public kvm::TreeReader {
 public:
  DenyingReader(std::string root, std::set<std::string> denied)
      : TreeReader(std::move(root)), denied_(std::move(denied)) {}
  Result<std::vector<std::string>> list(const std::string& rel) const override {
    if (denied_.count(rel)) return make_error(EACCES, "cannot read {}: Permission denied", path(rel));
    return TreeReader::list(rel);
  }

 private:
  std::set<std::string> denied_;
};

kvm::VmmScan scan(const FakeProc& f, long ioctl_nr = kArm64Ioctl) {
  auto r = kvm::scan_vmms(kvm::TreeReader(f.proc()), kvm::TreeReader(f.debugfs()), ioctl_nr, kSelfUid);
  REQUIRE(r);
  return *r;
}

// A svedbg-vmm with 2 vCPUs as in the nested VM: VM fd 4, vCPU fds 6 and 8.
void svedbg_vmm(FakeProc& f, int pid = 612) {
  f.process(pid, "svedbg-vmm", argv({"/bin/svedbg-vmm", "--vcpus", "2", "/guest/image"}));
  f.fd(pid, 0, "/dev/console");
  f.fd(pid, 3, "/dev/kvm");
  f.fd(pid, 4, "anon_inode:kvm-vm");
  f.fd(pid, 5, "/memfd:svedbg-guest-ram@gpa=0x40000000 (deleted)");
  f.fd(pid, 6, "anon_inode:kvm-vcpu:0");
  f.fd(pid, 8, "anon_inode:kvm-vcpu:1");
  f.thread(pid, pid + 1, "svedbg-vmm", "running\n");
  f.thread(pid, pid + 2, "svedbg-vmm", FakeProc::kvm_run(8));
}

}  // namespace

TEST_CASE("ps: VMMs and their vCPUs in ascending id, non-VMMs and kernel threads left out", "[vmm_scan]") {
  FakeProc f;
  f.process(1, "init", argv({"/sbin/init"}));
  f.fd(1, 0, "/dev/null");
  f.process(2, "kthreadd", "", 0, /*kthread=*/true);
  f.process(40, "bash", argv({"bash"}));
  f.fd(40, 3, "/dev/kvm");  // /dev/kvm open but no VM: not a VMM (yet)
  // fds in the opposite order of the ids; ids 2 and 10 sort as numbers.
  f.process(700, "qemu-system-aar", argv({"qemu-system-aarch64", "-smp", "4"}));
  f.fd(700, 11, "anon_inode:kvm-vm");
  f.fd(700, 20, "anon_inode:kvm-vcpu:10");
  f.fd(700, 21, "anon_inode:kvm-vcpu:2");
  f.fd(700, 22, "anon_inode:kvm-vcpu:1");
  f.fd(700, 23, "anon_inode:kvm-vcpu:0");
  f.fd(700, 24, "anon_inode:[eventfd]");
  svedbg_vmm(f);
  f.process(800, "vmm-in-setup", "");
  f.fd(800, 9, "anon_inode:kvm-vm");  // a VM without vCPUs yet

  auto s = scan(f);
  CHECK(s.processes == 5);  // kthreadd is not counted
  CHECK(s.unreadable == 0);
  REQUIRE(s.vmms.size() == 3);
  CHECK(s.vmms[0].pid == 612);
  CHECK(s.vmms[1].pid == 700);
  CHECK(s.vmms[2].pid == 800);

  const auto& vmm = s.vmms[0];
  CHECK(vmm.comm == "svedbg-vmm");
  CHECK(vmm.cmdline == std::vector<std::string>{"/bin/svedbg-vmm", "--vcpus", "2", "/guest/image"});
  CHECK(vmm.vm_fds == std::vector<int>{4});
  REQUIRE(vmm.vcpus.size() == 2);
  CHECK(vmm.vcpus[0].id == 0);
  CHECK(vmm.vcpus[0].fd() == 6);
  CHECK(vmm.vcpus[1].id == 1);
  CHECK(vmm.vcpus[1].fd() == 8);
  CHECK(vmm.threads.size() == 3);

  const auto& q = s.vmms[1];
  REQUIRE(q.vcpus.size() == 4);
  CHECK(q.vcpus[0].id == 0);
  CHECK(q.vcpus[0].fd() == 23);
  CHECK(q.vcpus[1].id == 1);
  CHECK(q.vcpus[2].id == 2);
  CHECK(q.vcpus[3].id == 10);
  CHECK(q.vcpus[3].fd() == 20);
  CHECK(s.vmms[2].vcpus.empty());
  CHECK(s.vmms[2].vm_fds == std::vector<int>{9});

  const auto text = kvm::format_text(s);
  CHECK_THAT(text, Catch::Contains("800  vmm-in-setup"));
  CHECK_THAT(text, Catch::Contains("no vCPUs yet"));
}

TEST_CASE("ps: dup'ed vCPU fds are one vCPU, unless the process has several VMs", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  f.fd(612, 9, "anon_inode:kvm-vcpu:1");  // e.g. Python's mmap dup()s the fd it maps
  f.thread(612, 614, "svedbg-vmm", FakeProc::kvm_run(9));
  auto s = scan(f);
  REQUIRE(s.vmms[0].vcpus.size() == 2);
  CHECK(s.vmms[0].vcpus[1].fds == std::vector<int>{8, 9});
  CHECK(s.vmms[0].vcpus[1].fd() == 8);
  REQUIRE(s.vmms[0].vcpus[1].tid);  // KVM_RUN on either fd
  CHECK(*s.vmms[0].vcpus[1].tid == 614);
  CHECK_THAT(kvm::format_text(s), Catch::Contains("  1     8,9  614  "));
  CHECK_THAT(kvm::format_json(s), Catch::Contains("{\"id\": 1, \"fd\": 8, \"fds\": [8, 9], \"tid\": 614"));

  SECTION("--vl: the backend serves each fd as a vCPU; any of them may know the thread") {
    kvm::merge_vector_lengths(s, [](pid_t) -> Result<std::vector<kvm::VcpuVl>> {
      std::vector<kvm::VcpuVl> out(3);
      out[0].id = 0;
      out[1].id = 1;
      out[2].id = 1;
      out[2].tid = 613;
      for (auto& v : out) {
        v.sve = true;
        v.vls = kvm::VqSet::range(1, 4);
        v.effective_vq = 2;
      }
      return out;
    });
    CHECK(s.vmms[0].vcpus[0].vl_read);
    CHECK(s.vmms[0].vcpus[1].effective_vq == 2);
    CHECK(*s.vmms[0].vcpus[1].tid == 614);  // KVM_RUN's answer stands
  }
  SECTION("two VMs: each fd its own row") {
    f.fd(612, 10, "anon_inode:kvm-vm");
    auto two = scan(f);
    REQUIRE(two.vmms[0].vcpus.size() == 3);
    CHECK(two.vmms[0].vcpus[1].fds == std::vector<int>{8});
    CHECK(two.vmms[0].vcpus[2].fds == std::vector<int>{9});
    CHECK(two.vmms[0].vm_fds == std::vector<int>{4, 10});
    CHECK_THAT(kvm::format_text(two), Catch::Contains("svedbg-vmm  4,10  "));
  }
}

TEST_CASE("ps: the thread of each vCPU, from KVM_RUN, debugfs or its name", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  SECTION("a thread blocked in KVM_RUN names its fd; a running one does not") {
    auto s = scan(f);
    const auto& v = s.vmms.at(0).vcpus;
    CHECK_FALSE(v[0].tid);  // its thread reads "running"
    CHECK(v[0].thread_source == kvm::ThreadSource::None);
    REQUIRE(v[1].tid);
    CHECK(*v[1].tid == 614);
    CHECK(v[1].thread_name == "svedbg-vmm");
    CHECK(v[1].thread_source == kvm::ThreadSource::KvmRun);
    CHECK_THAT(kvm::format_text(s), Catch::Contains("TID ?: a vCPU running guest code"));
  }
  SECTION("the ioctl number is the host's: an x86 syscall line is not arm64's KVM_RUN") {
    f.thread(612, 613, "svedbg-vmm", FakeProc::x86_kvm_run(6));
    CHECK_FALSE(scan(f, kArm64Ioctl).vmms[0].vcpus[0].tid);
    auto x86 = scan(f, kX86Ioctl);
    REQUIRE(x86.vmms[0].vcpus[0].tid);
    CHECK(*x86.vmms[0].vcpus[0].tid == 613);
    CHECK_FALSE(x86.vmms[0].vcpus[1].tid);  // its line says 29: not ioctl on x86
  }
  SECTION("a kernel worker forked inside KVM_RUN shows its creator's call: not taken") {
    // x86 KVM's kvm-nx-lpage-recovery (a vhost_task, PF_USER_WORKER) copies
    // the registers of the vCPU thread whose first KVM_RUN created it.
    f.thread(612, 613, "svedbg-vmm", FakeProc::kvm_run(6));
    f.thread(612, 615, "kvm-nx-lpage-re", FakeProc::kvm_run(6), 0x404040);
    auto s = scan(f);
    REQUIRE(s.vmms[0].vcpus[0].tid);
    CHECK(*s.vmms[0].vcpus[0].tid == 613);
    CHECK(s.vmms[0].threads.back() == kvm::ThreadEntry{615, "kvm-nx-lpage-re", true});
    CHECK_THAT(kvm::format_json(s),
               Catch::Contains("{\"tid\": 615, \"name\": \"kvm-nx-lpage-re\", \"kernel_worker\": true}"));
    // Named "vcpu0" it would still not count.
    f.thread(612, 613, "svedbg-vmm", "running\n");
    f.thread(612, 615, "vcpu0", FakeProc::kvm_run(6), 0x404040);
    CHECK_FALSE(scan(f).vmms[0].vcpus[0].tid);
  }
  SECTION("two threads in KVM_RUN on one fd (one waits for the vCPU): neither is taken") {
    f.thread(612, 613, "svedbg-vmm", FakeProc::kvm_run(6));
    f.thread(612, 615, "svedbg-vmm", FakeProc::kvm_run(6));
    auto s = scan(f);
    CHECK_FALSE(s.vmms[0].vcpus[0].tid);
    CHECK(*s.vmms[0].vcpus[1].tid == 614);
  }
  SECTION("other ioctls and fds are not KVM_RUN") {
    f.thread(612, 613, "svedbg-vmm", "29 0x6 0x4010aeab 0xffffd000 0x0 0x0 0x0 0xfffff0e0 0x40f1c8\n");
    f.thread(612, 615, "svedbg-vmm", FakeProc::kvm_run(5));  // not a vCPU fd
    CHECK_FALSE(scan(f).vmms[0].vcpus[0].tid);
  }
  SECTION("KVM's debugfs: CREATOR-VMFD/vcpuN/pid, if that thread is the VMM's") {
    f.file("kvm/612-4/vcpu0/pid", "613\n", true);
    f.file("kvm/612-4/vcpu1/pid", "614\n", true);
    f.file("kvm/999-4/vcpu0/pid", "1000\n", true);  // another VMM's VM
    auto s = scan(f);
    const auto& v = s.vmms[0].vcpus;
    REQUIRE(v[0].tid);
    CHECK(*v[0].tid == 613);
    CHECK(v[0].thread_source == kvm::ThreadSource::Debugfs);
    CHECK(v[1].thread_source == kvm::ThreadSource::KvmRun);  // KVM_RUN first
    CHECK_THAT(kvm::format_text(s), !Catch::Contains("TID ?"));
  }
  SECTION("debugfs naming a thread of another process is ignored") {
    f.file("kvm/612-4/vcpu0/pid", "4242\n", true);
    CHECK_FALSE(scan(f).vmms[0].vcpus[0].tid);
  }
  SECTION("a debugfs dir of a VM fd this VMM does not hold is ignored") {
    f.file("kvm/612-7/vcpu0/pid", "613\n", true);
    CHECK_FALSE(scan(f).vmms[0].vcpus[0].tid);
  }
  SECTION("QEMU's thread names: CPU N/KVM") {
    f.thread(612, 613, "CPU 0/KVM", "running\n");
    f.thread(612, 614, "CPU 1/KVM", "running\n");
    auto s = scan(f);
    const auto& v = s.vmms[0].vcpus;
    REQUIRE(v[0].tid);
    CHECK(*v[0].tid == 613);
    CHECK(v[0].thread_name == "CPU 0/KVM");
    CHECK(v[0].thread_source == kvm::ThreadSource::Name);
    REQUIRE(v[1].tid);
    CHECK(*v[1].tid == 614);
    CHECK(v[1].thread_source == kvm::ThreadSource::Name);
  }
  SECTION("a name claimed twice tells nothing") {
    f.thread(612, 613, "CPU 0/KVM", "running\n");
    f.thread(612, 615, "CPU 0/KVM", "running\n");
    CHECK_FALSE(scan(f).vmms[0].vcpus[0].tid);
  }
}

TEST_CASE("ps: vCPU thread names", "[vmm_scan]") {
  CHECK(kvm::vcpu_from_thread_name("CPU 0/KVM") == 0u);
  CHECK(kvm::vcpu_from_thread_name("CPU 12/KVM") == 12u);
  CHECK_FALSE(kvm::vcpu_from_thread_name("CPU 0/TCG"));
  CHECK_FALSE(kvm::vcpu_from_thread_name("CPU x/KVM"));
  CHECK(kvm::vcpu_from_thread_name("vcpu3") == 3u);
  CHECK(kvm::vcpu_from_thread_name("fc_vcpu 1") == 1u);
  CHECK(kvm::vcpu_from_thread_name("crosvm_vcpu7") == 7u);
  CHECK_FALSE(kvm::vcpu_from_thread_name("vcpu"));
  CHECK_FALSE(kvm::vcpu_from_thread_name("vcpu-helper"));
  CHECK_FALSE(kvm::vcpu_from_thread_name("svedbg-vmm"));

  CHECK(kvm::looks_like_vmm("qemu-system-aar", {}, {}));
  CHECK(kvm::looks_like_vmm("firecracker", {}, {}));
  CHECK(kvm::looks_like_vmm("svedbg-vmm", {}, {}));
  CHECK(kvm::looks_like_vmm("x", {"/usr/bin/qemu-system-x86_64", "-enable-kvm"}, {}));
  CHECK(kvm::looks_like_vmm("main", {"/opt/vm"}, {"main", "CPU 0/KVM"}));
  CHECK_FALSE(kvm::looks_like_vmm("bash", {"bash"}, {"bash"}));
  CHECK_FALSE(kvm::looks_like_vmm("qemu-aarch64", {"qemu-aarch64", "./a.out"}, {"qemu-aarch64"}));
}

TEST_CASE("ps: processes whose fds cannot be read", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  f.process(900, "qemu-system-x86", argv({"/usr/bin/qemu-system-x86_64"}), 1000);
  f.process(901, "sshd", argv({"sshd"}), 1000);
  f.process(902, "main", argv({"/opt/vm"}), 1000);
  f.thread(902, 903, "CPU 0/KVM", "running\n");
  f.process(904, "cron", argv({"cron"}), 0);  // root's, not dumpable: EACCES for the same uid
  DenyingReader proc(f.proc(), {"900/fd", "901/fd", "902/fd", "904/fd"});
  auto r = kvm::scan_vmms(proc, kvm::TreeReader(f.debugfs()), kArm64Ioctl, kSelfUid);
  REQUIRE(r);
  CHECK(r->processes == 5);
  CHECK(r->unreadable == 4);
  REQUIRE(r->vmms.size() == 1);
  REQUIRE(r->unreadable_vmms.size() == 2);
  CHECK(r->unreadable_vmms[0].pid == 900);
  CHECK(r->unreadable_vmms[0].uid == 1000);
  CHECK_THAT(r->unreadable_vmms[0].reason, Catch::Contains("another user's process (uid 1000)"));
  CHECK_THAT(r->unreadable_vmms[0].reason, Catch::Contains("as root"));
  CHECK(r->unreadable_vmms[1].pid == 902);  // by its vCPU thread's name

  const auto text = kvm::format_text(*r);
  CHECK_THAT(text, Catch::Contains("not readable: another user's process (uid 1000)"));
  CHECK_THAT(text, Catch::Contains("2 other processes not readable"));
  // Rows by pid: the readable VMM first.
  CHECK(text.find("612 ") < text.find("900 "));

  SECTION("not dumpable: same uid, still EACCES") {
    f.process(905, "firecracker", argv({"firecracker"}), kSelfUid);
    DenyingReader p2(f.proc(), {"904/fd", "905/fd"});
    auto r2 = kvm::scan_vmms(p2, kvm::TreeReader(f.debugfs()), kArm64Ioctl, kSelfUid);
    REQUIRE(r2);
    CHECK(r2->unreadable == 2);
    REQUIRE(r2->unreadable_vmms.size() == 1);  // cron does not look like a VMM
    CHECK_THAT(r2->unreadable_vmms[0].reason, Catch::StartsWith("not dumpable"));
    CHECK_THAT(kvm::format_text(*r2), Catch::Contains("\n1 other process not readable"));
  }
}

TEST_CASE("ps: a process that exits during the scan is skipped", "[vmm_scan]") {
  FakeProc f;
  f.process(50, "gone", "");
  fs::remove_all(fs::path(f.proc()) / "50" / "fd");  // as if it exited between readdir and opendir
  f.process(51, "no-stat", "");
  fs::remove(fs::path(f.proc()) / "51" / "stat");  // a sparse tree: still a process
  auto s = scan(f);
  CHECK(s.processes == 1);
  CHECK(s.unreadable == 0);
}

TEST_CASE("ps: no VMM: one clear line, and an empty list in JSON", "[vmm_scan]") {
  FakeProc f;
  f.process(1, "init", argv({"/sbin/init"}));
  f.process(2, "sh", argv({"sh"}));
  auto s = scan(f);
  CHECK(kvm::format_text(s) == "no KVM VMMs found (looked at 2 processes)\n");
  CHECK(kvm::format_json(s) ==
        "{\n  \"svedbg_ps\": 1,\n  \"processes\": 2,\n  \"unreadable\": 0,\n  \"vl_requested\": false,\n"
        "  \"vmms\": [],\n  \"unreadable_vmms\": [],\n  \"note\": null\n}\n");
  auto r = kvm::scan_vmms(kvm::TreeReader(f.proc() + "/nonexistent"), kvm::TreeReader(f.debugfs()), 29, 0);
  CHECK_FALSE(r);
}

TEST_CASE("ps --vl: VLS and effective VL per vCPU, or why not", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  f.process(700, "qemu-system-aar", argv({"qemu-system-aarch64"}));
  f.fd(700, 11, "anon_inode:kvm-vm");
  f.fd(700, 12, "anon_inode:kvm-vcpu:0");
  f.process(800, "vmm-in-setup", "");
  f.fd(800, 9, "anon_inode:kvm-vm");
  auto s = scan(f);
  s.vl_supported = true;
  std::vector<pid_t> asked;
  kvm::merge_vector_lengths(s, [&](pid_t pid) -> Result<std::vector<kvm::VcpuVl>> {
    asked.push_back(pid);
    if (pid == 700)
      return make_error(EPERM, "cannot attach to pid 700 (qemu-system-aar): it is already traced by process 701 (gdb)");
    std::vector<kvm::VcpuVl> out(2);
    out[0].id = 0;
    out[0].tid = 613;  // seen leaving KVM_RUN when attached
    out[0].sve = true;
    out[0].vls = kvm::VqSet::range(1, 16);
    out[0].effective_vq = 4;
    out[1].id = 1;
    out[1].tid = 613;  // KVM_RUN's answer (614) stands
    out[1].sve = true;
    out[1].vls = kvm::VqSet::range(1, 16);
    out[1].effective_vq = 16;
    return out;
  });
  CHECK(asked == std::vector<pid_t>{612, 700});  // 800 has no vCPUs
  CHECK(s.vl_requested);
  const auto& v = s.vmms[0].vcpus;
  CHECK(v[0].vl_read);
  CHECK(v[0].sve);
  CHECK(v[0].effective_vq == 4);
  REQUIRE(v[0].tid);
  CHECK(*v[0].tid == 613);
  CHECK(v[0].thread_source == kvm::ThreadSource::Attach);
  CHECK(*v[1].tid == 614);
  CHECK(v[1].thread_source == kvm::ThreadSource::KvmRun);
  CHECK_THAT(s.vmms[1].vl_error, Catch::Contains("already traced"));

  const auto text = kvm::format_text(s);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("613  svedbg-vmm  attach   128-2048 bits  512 bits\n"));
  CHECK_THAT(text, Catch::Contains("614  svedbg-vmm  kvm_run  128-2048 bits  2048 bits\n"));
  CHECK_THAT(text, Catch::Contains("not read: cannot attach to pid 700 (qemu-system-aar): it is already traced"));
  CHECK_THAT(text, !Catch::Contains("svedbg ps --vl` reads them"));

  const auto json = kvm::format_json(s);
  CHECK_THAT(json, Catch::Contains(
                       "{\"id\": 0, \"fd\": 6, \"tid\": 613, \"thread_name\": \"svedbg-vmm\", \"thread_source\": "
                       "\"attach\", \"sve\": true, \"vls\": [128, 256, 384, 512, 640, 768, 896, 1024, 1152, 1280, "
                       "1408, 1536, 1664, 1792, 1920, 2048], \"max_vl\": 2048, \"effective_vl\": 512, \"vl_error\": "
                       "null}"));
  CHECK_THAT(json, Catch::Contains("\"vl_error\": \"cannot attach to pid 700"));
  CHECK_THAT(json, Catch::Contains("{\"id\": 0, \"fd\": 12, \"tid\": null, \"thread_name\": null, \"thread_source\": "
                                   "null, \"sve\": null, \"vls\": null, \"max_vl\": null, \"effective_vl\": null, "
                                   "\"vl_error\": null}"));
}

TEST_CASE("ps --vl: a vCPU without SVE, a vCPU not read, a host without SVE", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  auto s = scan(f);
  s.vl_supported = true;
  SECTION("no SVE on one vCPU, the other's registers unreadable") {
    kvm::merge_vector_lengths(s, [](pid_t) -> Result<std::vector<kvm::VcpuVl>> {
      std::vector<kvm::VcpuVl> out(2);
      out[0].id = 0;  // sve = false: VLS was ENOENT
      out[1].id = 1;
      out[1].error = "vCPU 1: KVM_GET_ONE_REG ZCR_EL1: Invalid argument";
      return out;
    });
    const auto& v = s.vmms[0].vcpus;
    CHECK(v[0].vl_read);
    CHECK_FALSE(v[0].sve);
    CHECK_FALSE(v[1].vl_read);
    const auto text = kvm::format_text(s);
    CHECK_THAT(text, Catch::Contains("no SVE"));
    CHECK_THAT(text, Catch::Contains("not read: vCPU 1: KVM_GET_ONE_REG ZCR_EL1"));
    CHECK_THAT(kvm::format_json(s), Catch::Contains("\"sve\": false, \"vls\": null"));
  }
  SECTION("a vCPU the attach did not see") {
    kvm::merge_vector_lengths(s, [](pid_t) -> Result<std::vector<kvm::VcpuVl>> {
      std::vector<kvm::VcpuVl> out(1);
      out[0].id = 0;
      out[0].sve = true;
      out[0].vls = kvm::VqSet::range(1, 4);
      out[0].effective_vq = 4;
      return out;
    });
    CHECK(s.vmms[0].vcpus[1].vl_error == "not found when attached");
  }
  SECTION("no reader (x86_64): VL columns stay '-'") {
    s.vl_supported = false;
    s.vl_note = "--vl: vector lengths are arm64 SVE state";
    kvm::merge_vector_lengths(s, {});
    const auto text = kvm::format_text(s);
    CHECK_THAT(text, Catch::Contains("kvm_run  -    -\n"));
    CHECK_THAT(text, Catch::Contains("--vl: vector lengths are arm64 SVE state\n"));
    CHECK_THAT(kvm::format_json(s), Catch::Contains("\"note\": \"--vl: vector lengths are arm64 SVE state\""));
  }
}

TEST_CASE("ps: text rows and JSON of a full scan", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  f.process(612, "svedbg-vmm", argv({"/bin/svedbg-vmm", "\"q\""}), 0, false, /*tracer=*/650);
  f.process(650, "svedbg", argv({"svedbg"}));
  auto s = scan(f);
  s.vl_supported = true;
  CHECK(kvm::format_text(s) ==
        "PID  COMMAND     VM FD  VCPU  FD  TID  THREAD      SOURCE   VLS  VL\n"
        "612  svedbg-vmm  4      0     6   ?    -           -        -    -\n"
        "612  svedbg-vmm  4      1     8   614  svedbg-vmm  kvm_run  -    -\n"
        "pid 612 (svedbg-vmm) is traced by pid 650 (svedbg)\n"
        "TID ?: a vCPU running guest code is not waiting in KVM_RUN; --vl (attach), or KVM's debugfs (root, "
        "debugfs mounted), tells its thread\n"
        "VLS, VL: `svedbg ps --vl` reads them (it stops each VMM for a moment with ptrace)\n");
  CHECK(kvm::format_json(s) ==
        "{\n  \"svedbg_ps\": 1,\n  \"processes\": 2,\n  \"unreadable\": 0,\n  \"vl_requested\": false,\n"
        "  \"vmms\": [\n"
        "    {\"pid\": 612, \"comm\": \"svedbg-vmm\", \"cmdline\": [\"/bin/svedbg-vmm\", \"\\\"q\\\"\"], \"uid\": 0, "
        "\"traced_by\": {\"pid\": 650, \"comm\": \"svedbg\"}, \"vm_fds\": [4], \"threads\": [{\"tid\": 612, \"name\": "
        "\"svedbg-vmm\"}, {\"tid\": 613, \"name\": \"svedbg-vmm\"}, {\"tid\": 614, \"name\": \"svedbg-vmm\"}],\n"
        "     \"vl_error\": null,\n"
        "     \"vcpus\": [\n"
        "       {\"id\": 0, \"fd\": 6, \"tid\": null, \"thread_name\": null, \"thread_source\": null, \"sve\": null, "
        "\"vls\": null, \"max_vl\": null, \"effective_vl\": null, \"vl_error\": null},\n"
        "       {\"id\": 1, \"fd\": 8, \"tid\": 614, \"thread_name\": \"svedbg-vmm\", \"thread_source\": \"kvm_run\", "
        "\"sve\": null, \"vls\": null, \"max_vl\": null, \"effective_vl\": null, \"vl_error\": null}]}\n"
        "  ],\n  \"unreadable_vmms\": [],\n  \"note\": null\n}\n");
}

TEST_CASE("ps --json: names that are not UTF-8 stay ASCII JSON", "[vmm_scan]") {
  FakeProc f;
  svedbg_vmm(f);
  f.process(612, "vmm\xe9", argv({"/bin/vmm\xc3\xa9", "a\tb"}));
  const auto json = kvm::format_json(scan(f));
  CHECK_THAT(json, Catch::Contains("\"comm\": \"vmm\\u00e9\", \"cmdline\": [\"/bin/vmm\\u00e9\", \"a\\tb\"]"));
}
