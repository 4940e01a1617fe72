// The attach backend's steps that need no arm64 process: the vCPU fds, the
// syscall site, guest RAM, /proc parsing, stack room, batch planning and
// results, fault hooks, AttachedVcpu and the stop watcher
// (kvm/attach/attach_setup.hpp, vmm_proc.hpp, batch_plan.hpp,
// attach_options.hpp, attach_backend.hpp, stop_watcher.hpp).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "kvm/attach/attach_backend.hpp"
#include "kvm/attach/attach_options.hpp"
#include "kvm/attach/attach_setup.hpp"
#include "kvm/attach/batch_plan.hpp"
#include "kvm/attach/stop_watcher.hpp"
#include "kvm/attach/vmm_proc.hpp"
#include "kvm/reg_id.hpp"

using namespace svedbg;

namespace {

kvm::MapEntry map(std::uint64_t start, std::uint64_t end, const char* perms, const char* path = "") {
  kvm::MapEntry m;
  m.start = start;
  m.end = end;
  m.read = perms[0] == 'r';
  m.write = perms[1] == 'w';
  m.exec = perms[2] == 'x';
  m.path = path;
  return m;
}

kvm::VmmVcpu vc(unsigned id, int fd) {
  kvm::VmmVcpu v;
  v.id = id;
  v.fd = fd;
  return v;
}

kvm::LogFn collect(std::vector<std::string>& logs) {
  return [&logs](const std::string& l) { logs.push_back(l); };
}

}  // namespace

TEST_CASE("attach setup: a vCPU open twice is served once, through its lowest fd", "[attach]") {
  std::vector<std::string> logs;
  std::vector<kvm::VmmVcpu> in{vc(2, 9), vc(0, 7), vc(2, 5), vc(1, 8)};
  auto out = kvm::unique_vcpus(in, 42, collect(logs));
  REQUIRE(out.size() == 3);
  CHECK(out[0].id == 0);
  CHECK(out[1].id == 1);
  CHECK(out[2].id == 2);
  CHECK(out[2].fd == 5);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0] == "pid 42: kvm-vcpu:2 is open as fd 5 and fd 9; using fd 5");
}

TEST_CASE("attach setup: a process without vCPU fds is not a KVM VMM", "[attach]") {
  std::vector<std::string> logs;
  auto r = kvm::find_vcpu_fds(::getpid(), collect(logs));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ENODEV);
  CHECK_THAT(r.error().message, Catch::Contains("is not a KVM VMM: it has no vCPU fds"));
}

TEST_CASE("attach setup: kvm_run mappings and the first svc #0 of an executable mapping", "[attach]") {
  std::vector<kvm::VmmVcpu> vcpus{vc(0, 7), vc(3, 8)};
  auto run = map(0x7000, 0x8000, "rw-", "anon_inode:kvm-vcpu:3");
  auto later = run;
  later.offset = 0x1000;  // not the kvm_run page
  later.start = 0x9000;
  kvm::find_kvm_run_maps(vcpus, {run, later});
  CHECK(vcpus[0].run == 0);
  CHECK(vcpus[1].run == 0x7000);

  std::vector<std::byte> code(0x2000);
  const std::uint32_t svc = 0xd4000001;
  std::memcpy(code.data() + 0x1234, &svc, 4);
  const kvm::PeekFn peek = [&](std::uint64_t a, void* out, std::size_t n) {
    if (a < 0x400000 || a + n > 0x400000 + code.size()) return false;
    std::memcpy(out, code.data() + (a - 0x400000), n);
    return true;
  };
  const std::vector<kvm::MapEntry> maps{map(0x300000, 0x301000, "rw-"), map(0x400000, 0x402000, "r-x", "/bin/vmm")};
  auto site = kvm::find_syscall_site(maps, peek);
  REQUIRE(site);
  CHECK(*site == 0x401234);
  CHECK_FALSE(kvm::find_syscall_site({map(0x300000, 0x301000, "rw-")}, peek));
}

TEST_CASE("attach setup: guest RAM given, found in the maps, or not found (logged)", "[attach]") {
  std::vector<std::string> logs;
  const std::vector<kvm::MapEntry> maps{map(0x10000000, 0x14000000, "rw-"), map(0x20000000, 0x20100000, "rw-")};
  auto none = kvm::find_guest_ram(42, {}, maps, collect(logs));
  REQUIRE(none);
  CHECK(none->empty());
  REQUIRE(logs.size() == 1);
  CHECK_THAT(logs[0], Catch::StartsWith("pid 42: guest RAM not found in its mappings"));
  auto given = kvm::find_guest_ram(42, {{0x80000000, 0, 0x100000}, {0x40000000, 0, 0x4000000}}, maps, collect(logs));
  REQUIRE(given);
  REQUIRE(given->size() == 2);
  CHECK((*given)[0] == kvm::RamRange{0x40000000, 0x10000000, 0x4000000});  // sorted by GPA
  CHECK((*given)[1] == kvm::RamRange{0x80000000, 0x20000000, 0x100000});
  auto bad = kvm::find_guest_ram(42, {{0x40000000, 0, 0x3000}}, maps, collect(logs));
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::StartsWith("pid 42: "));
}

TEST_CASE("vmm proc: SIGTRAP is safe only when neither blocked nor ignored", "[attach]") {
  CHECK(kvm::sigtrap_safe("Name:\tvmm\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001000\n"));
  CHECK_FALSE(kvm::sigtrap_safe("SigBlk:\t0000000000000010\nSigIgn:\t0000000000000000\n"));  // bit 4: SIGTRAP (5)
  CHECK_FALSE(kvm::sigtrap_safe("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000010\n"));
  CHECK_FALSE(kvm::sigtrap_safe("SigBlk:\t0000000000000000\n"));  // unknown: not safe
  CHECK(kvm::comm_of(-1) == "?");
  const auto tasks = kvm::list_tasks(::getpid());
  CHECK(std::find(tasks.begin(), tasks.end(), ::getpid()) != tasks.end());
}

TEST_CASE("vmm proc: stack room below sp, within sp's mapping, at most the maximum", "[attach]") {
  kvm::WritableMaps w;
  w.learn({map(0x10000, 0x20000, "rw-"), map(0x20000, 0x21000, "r-x"), map(0x30000, 0x40000, "rw-")});
  REQUIRE(w.at(0x10000));
  CHECK(w.at(0x1ffff)->first == 0x10000);
  CHECK_FALSE(w.at(0x20000));
  auto room = w.stack_room(::getpid(), 7, 0x3f008, 64 * 1024);
  REQUIRE(room);
  CHECK(room->top == 0x3e000);
  CHECK(room->bytes == 0x3e000 - 0x30000);
  auto capped = w.stack_room(::getpid(), 7, 0x3f008, 0x100);
  REQUIRE(capped);
  CHECK(capped->bytes == 0x100);
  auto none = w.stack_room(::getpid(), 7, 0x10800, 64 * 1024);
  REQUIRE_FALSE(none);
  CHECK(none.error().code == ENOSPC);
}

TEST_CASE("batch plan: placed right under the top; results and counts per read", "[attach]") {
  std::vector<kvm::VmmVcpu> vcpus{vc(0, 11), vc(1, 12)};
  std::vector<std::array<std::byte, 8>> out(3);
  std::vector<kvm::Backend::RegRead> reads{
      {0, kvm::core_x(0), out[0], {}}, {1, kvm::core_x(1), out[1], {}}, {1, kvm::core_x(2), out[2], {}}};
  const std::vector<std::size_t> todo{0, 2};
  const auto calls = kvm::batch_calls(reads, todo, vcpus);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].fd == 11);
  CHECK(calls[1].fd == 12);
  CHECK(calls[1].id == kvm::core_x(2));
  auto plan = kvm::place_batch({0x7000, 0x1000}, calls, 5, 0x8000);
  REQUIRE(plan);
  CHECK(plan->count == 2);
  CHECK(plan->table % 16 == 0);
  CHECK(plan->table + plan->read_bytes <= 0x7000);
  CHECK(0x7000 - plan->table < plan->read_bytes + 16);
  auto tight = kvm::place_batch({0x7000, 8}, calls, 5, 0x8000);
  REQUIRE_FALSE(tight);
  CHECK(tight.error().code == EAGAIN);

  std::vector<std::byte> back(plan->read_bytes);
  std::memcpy(back.data(), plan->table_bytes.data(), plan->table_bytes.size());
  CHECK(kvm::executed(*plan, back, true) == 0);  // nothing ran
  CHECK(kvm::executed(*plan, back, false) == 2);
  const std::int64_t results[] = {0, -2};
  for (std::size_t i = 0; i < 2; ++i) std::memcpy(back.data() + i * kvm::batch::kEntryBytes + 24, &results[i], 8);
  back[plan->value_offset[0]] = std::byte{0x5a};
  CHECK(kvm::executed(*plan, back, true) == 2);
  kvm::take_results(*plan, back, reads, todo, 0);
  CHECK(reads[0].status);
  CHECK(std::to_integer<unsigned>(out[0][0]) == 0x5a);
  REQUIRE_FALSE(reads[2].status);
  CHECK(reads[2].status.error().code == ENOENT);
}

TEST_CASE("fault hooks: kill-vmm-in-batch:N kills the VMM in batch N only", "[attach]") {
  std::vector<std::string> logs;
  CHECK_FALSE(kvm::fault_hooks_from_spec("kill-vmm-in-batch:0", collect(logs)));
  auto bad = kvm::fault_hooks_from_spec("explode", collect(logs));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EINVAL);
  CHECK(bad.error().message == "SVEDBG_FAULT_INJECT=explode: expected kill-vmm-in-batch:N (N >= 1)");
  CHECK(logs.empty());
  auto hooks = kvm::fault_hooks_from_spec("kill-vmm-in-batch:2", collect(logs));
  REQUIRE(hooks);
  REQUIRE(hooks->batch_started);
  REQUIRE(logs.size() == 1);
  CHECK(logs[0] == "fault injection: the VMM gets SIGKILL during batch 2");
  const pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  REQUIRE(child > 0);
  hooks->batch_started(child, 1);
  int st = 0;
  CHECK(::waitpid(child, &st, WNOHANG) == 0);  // batch 1: alive
  hooks->batch_started(child, 2);
  REQUIRE(::waitpid(child, &st, 0) == child);
  CHECK(WIFSIGNALED(st));
  CHECK(WTERMSIG(st) == SIGKILL);
  REQUIRE(logs.size() == 2);
  CHECK(logs[1] == "fault injection: SIGKILL to the VMM (pid " + std::to_string(child) + ") during batch 2");
}

TEST_CASE("AttachedVcpu: effective vq from VLS and ZCR_EL1, none without either", "[attach]") {
  kvm::VmmVcpu v = vc(5, 17);
  v.vls = kvm::VqSet::range(1, 4);
  auto a = kvm::attached_vcpu(v, 321, kvm::zcr_for_vq(2));
  CHECK(a.id == 5);
  CHECK(a.fd == 17);
  CHECK(a.thread == 321);
  REQUIRE(a.vls);
  CHECK(*a.vls == kvm::VqSet::range(1, 4));
  CHECK(a.effective_vq == std::optional<unsigned>(2));
  CHECK(kvm::attached_vcpu(v, std::nullopt, kvm::zcr_for_vq(16)).effective_vq == std::optional<unsigned>(4));
  const auto unread = kvm::attached_vcpu(v, std::nullopt, std::nullopt);
  CHECK(unread.thread == 0);
  CHECK_FALSE(unread.effective_vq);
  v.vls.reset();  // no SVE
  const auto plain = kvm::attached_vcpu(v, 321, 0);
  CHECK_FALSE(plain.vls);
  CHECK_FALSE(plain.effective_vq);
}

TEST_CASE("stop watcher: an exited child runs the notifier once, and is left to waitpid", "[attach]") {
  kvm::StopWatcher w;
  std::atomic<int> calls{0};
  w.set_notifier([&] { ++calls; });
  const pid_t child = ::fork();
  if (child == 0) ::_exit(3);
  REQUIRE(child > 0);
  w.arm(true);
  for (int i = 0; i < 500 && calls == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(calls == 1);  // disarmed by the first event
  int st = 0;
  REQUIRE(::waitpid(child, &st, 0) == child);  // WNOWAIT: still there to reap
  CHECK(WEXITSTATUS(st) == 3);
}
