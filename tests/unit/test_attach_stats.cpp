// The attach backend's counting, its `monitor attach` text, and CPU
// colocation with faked affinity calls (kvm/attach/attach_stats.hpp,
// kvm/attach/colocation.hpp): the parts that need no arm64 process.
#include <catch2/catch.hpp>
#include <cerrno>
#include <map>
#include <string>
#include <vector>

#include "kvm/attach/attach_stats.hpp"
#include "kvm/attach/colocation.hpp"

using namespace svedbg;

namespace {

kvm::AttachReport sample_report() {
  kvm::AttachReport r;
  r.description = "KVM VMM pid 42 (svedbg-vmm): 2 vCPUs, guest RAM 0x40000000+0x1000000@0xffff80000000";
  r.vcpus = {{0, 11, 613, 0xffffa000}, {3, 12, std::nullopt, 0}};
  r.threads_traced = 4;
  r.totals = {7, 7, 3, 2, 5};
  r.this_stop.read_trips = 1;
  r.this_stop.reg_ioctls = 5;
  r.this_stop.read_time = std::chrono::microseconds(250);
  r.batching = true;
  r.cave_addr = 0x400ff0;
  r.cave_path = "/bin/svedbg-vmm";
  r.loop_written = true;
  r.colocate = true;
  r.pin_cpu = 1;
  return r;
}

}  // namespace

TEST_CASE("monitor attach text: vCPU lines, totals, this stop, batching and colocation", "[attach]") {
  CHECK(kvm::format_attach_report(sample_report()) ==
        "KVM VMM pid 42 (svedbg-vmm): 2 vCPUs, guest RAM 0x40000000+0x1000000@0xffff80000000\n"
        "vCPU 0: kvm-vcpu:0 fd 11 thread 613 kvm_run 0xffffa000\n"
        "vCPU 1: kvm-vcpu:3 fd 12 thread ? kvm_run 0x0\n"
        "threads traced: 4; injected system calls: 7\n"
        "trips into the VMM: 3; KVM ioctls: 7; batches: 2 (5 registers)\n"
        "register reads in this stop: 1 trips, 5 KVM_GET_ONE_REG, 250 us\n"
        "batched register reads: on; loop at 0x400ff0 (/bin/svedbg-vmm, past its code; written this stop), "
        "tables on the stack\n"
        "CPU colocation: on (svedbg on CPU 1 in this stop, each trip's VMM thread too)\n");
}

TEST_CASE("monitor attach text: the previous stop, batching off and why, colocation states", "[attach]") {
  auto r = sample_report();
  r.last_stop = kvm::StopCost{2, 40, 1, std::chrono::microseconds(1500)};
  r.batching = false;
  r.batching_note = "monitor attach batch off";
  r.pin_cpu = -1;
  const auto text = kvm::format_attach_report(r);
  CHECK_THAT(text, Catch::Contains("register reads in the previous stop: 2 trips, 40 KVM_GET_ONE_REG, 1500 us; "
                                   "other trips: 1\n"));
  CHECK_THAT(text, Catch::EndsWith("batched register reads: off (monitor attach batch off)\nCPU colocation: on\n"));
  r.colocate = false;
  CHECK_THAT(kvm::format_attach_report(r), Catch::EndsWith("CPU colocation: off\n"));
}

TEST_CASE("stop cost: trips inside a read scope are read trips, nested scopes count once", "[attach]") {
  kvm::StopCostMeter m;
  m.count_trip();  // a KVM_SET_GUEST_DEBUG, say
  {
    kvm::StopCostMeter::ReadScope outer(m);
    CHECK(m.reading());
    {
      kvm::StopCostMeter::ReadScope inner(m);
      m.count_trip();
      m.count_reg_ioctl();
    }
    CHECK(m.reading());
    m.count_trip();
  }
  CHECK_FALSE(m.reading());
  CHECK(m.current().read_trips == 2);
  CHECK(m.current().other_trips == 1);
  CHECK(m.current().reg_ioctls == 1);
  CHECK_FALSE(m.last());
  m.new_stop();
  REQUIRE(m.last());
  CHECK(m.last()->read_trips == 2);
  CHECK(m.current().read_trips == 0);
  m.count_trip();
  m.reset();
  CHECK(m.current().other_trips == 0);
}

TEST_CASE("counters: one injected ioctl counts as a system call and a KVM ioctl", "[attach]") {
  kvm::AttachCounters c;
  c.count_ioctl();
  ++c.trips;
  const auto t = c.totals();
  CHECK(t.injected == 1);
  CHECK(t.kvm_ioctls == 1);
  CHECK(t.trips == 1);
  CHECK(t.batches == 0);
}

namespace {

// Affinity calls against a table: tid 0 is the tracer; CPUs 0..3.
struct FakeAffinity {
  int cpu = 2;
  std::map<pid_t, cpu_set_t> masks;
  std::vector<std::string> calls;
  bool fail_set = false;
  static cpu_set_t of(std::initializer_list<int> cpus) {
    cpu_set_t s;
    CPU_ZERO(&s);
    for (int c : cpus) CPU_SET(c, &s);
    return s;
  }
  kvm::AffinityOps ops() {
    return {[this] { return cpu; },
            [this](pid_t tid, cpu_set_t& out) {
              auto it = masks.find(tid);
              if (it == masks.end()) return false;
              out = it->second;
              return true;
            },
            [this](pid_t tid, const cpu_set_t& in) {
              calls.push_back("set " + std::to_string(tid) + " " + std::to_string(CPU_COUNT(&in)));
              if (fail_set) {
                errno = EPERM;
                return false;
              }
              masks[tid] = in;
              return true;
            }};
  }
};

}  // namespace

TEST_CASE("colocation: tracer pinned once per stop, the VMM thread for the trip only", "[attach]") {
  FakeAffinity a;
  a.masks[0] = FakeAffinity::of({0, 1, 2, 3});
  a.masks[100] = FakeAffinity::of({0, 1, 2, 3});
  std::vector<std::string> logs;
  kvm::Colocation c([&](const std::string& l) { logs.push_back(l); }, a.ops());
  {
    kvm::Colocation::Guard g(c, 100);
    CHECK(c.cpu() == 2);
    CHECK(CPU_COUNT(&a.masks[0]) == 1);
    CHECK(CPU_ISSET(2, &a.masks[100]));
    CHECK(CPU_COUNT(&a.masks[100]) == 1);
  }
  CHECK(CPU_COUNT(&a.masks[100]) == 4);  // its own affinity back after the trip
  CHECK(CPU_COUNT(&a.masks[0]) == 1);    // the tracer stays pinned for the stop
  c.pin(100);
  c.end();
  CHECK(CPU_COUNT(&a.masks[0]) == 4);
  CHECK(CPU_COUNT(&a.masks[100]) == 4);
  CHECK(c.cpu() == -1);
  CHECK(logs.empty());
}

TEST_CASE("colocation: a thread that may not run on the CPU is left alone; off pins nothing", "[attach]") {
  FakeAffinity a;
  a.masks[0] = FakeAffinity::of({0, 1, 2, 3});
  a.masks[7] = FakeAffinity::of({0, 1});
  kvm::Colocation c([](const std::string&) {}, a.ops());
  c.pin(7);
  CHECK(CPU_COUNT(&a.masks[7]) == 2);
  c.release(7);
  CHECK(a.calls.size() == 1);  // only the tracer's pin
  c.set_enabled(false);
  CHECK(CPU_COUNT(&a.masks[0]) == 4);
  a.calls.clear();
  c.pin(7);
  CHECK(a.calls.empty());
  CHECK_FALSE(c.enabled());
}

TEST_CASE("colocation: an affinity that cannot be given back is logged", "[attach]") {
  FakeAffinity a;
  a.masks[0] = FakeAffinity::of({0, 1, 2, 3});
  a.masks[9] = FakeAffinity::of({2, 3});
  std::vector<std::string> logs;
  kvm::Colocation c([&](const std::string& l) { logs.push_back(l); }, a.ops());
  c.pin(9);
  a.fail_set = true;
  c.release(9);
  REQUIRE(logs.size() == 1);
  CHECK_THAT(logs[0], Catch::StartsWith("thread 9: cannot restore its CPU affinity"));
}

TEST_CASE("monitor attach text: the last all-stop and svedbg's memory, when known", "[attach]") {
  auto r = sample_report();
  CHECK(kvm::format_attach_report(r).find("all-stop") == std::string::npos);
  r.last_all_stop = std::chrono::microseconds(12345);
  r.memory = kvm::DaemonMemory{5120, 6144};
  CHECK_THAT(kvm::format_attach_report(r),
             Catch::EndsWith("last all-stop: 4 threads in 12.3 ms\nsvedbg memory: VmRSS 5120 kB, VmHWM 6144 kB\n"));
}

TEST_CASE("daemon memory: VmRSS and VmHWM from a /proc/PID/status text", "[attach]") {
  const std::string status =
      "Name:\tsvedbg\nVmPeak:\t  20000 kB\nVmHWM:\t    6144 kB\nVmRSS:\t    5120 kB\nThreads:\t2\n";
  auto m = kvm::parse_memory(status);
  REQUIRE(m);
  CHECK(m->rss_kb == 5120);
  CHECK(m->hwm_kb == 6144);
  CHECK_FALSE(kvm::parse_memory("Name:\tx\nVmRSS:\t1 kB\n"));  // no VmHWM
  CHECK_FALSE(kvm::parse_memory("VmRSSX:\t1 kB\nVmHWM:\t2 kB\n"));
  auto own = kvm::own_memory();
  REQUIRE(own);  // this test process has a /proc/self/status
  CHECK(own->rss_kb > 0);
  CHECK(own->hwm_kb >= own->rss_kb);
}
