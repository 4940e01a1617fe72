// kvm/inprocess/vcpu_gate.hpp on any host: "vCPU threads" whose KVM_RUN is simulated
// (run until immediate_exit is set or the kick signal arrives, then EINTR),
// on /dev/null fds (the gate's completion KVM_RUN just fails there).
#include <fcntl.h>
#include <linux/kvm.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "kvm/inprocess/vcpu_gate.hpp"

using namespace svedbg;
using kvm::StopReason;

namespace {

struct FakeVm {
  static constexpr unsigned kVcpus = 3;
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  std::vector<std::unique_ptr<kvm_run>> runs;
  std::unique_ptr<kvm::VcpuGate> gate;
  std::atomic<bool> quit{false};
  std::atomic<unsigned> entries{0};
  std::vector<std::thread> threads;

  FakeVm() {
    std::vector<kvm::GateVcpu> v;
    for (unsigned i = 0; i < kVcpus; ++i) {
      runs.push_back(std::make_unique<kvm_run>());
      v.push_back(kvm::GateVcpu{null_fd, runs.back().get()});
    }
    gate = std::make_unique<kvm::VcpuGate>(v);
    for (unsigned i = 0; i < kVcpus; ++i) threads.emplace_back([this, i] { loop(i); });
  }
  ~FakeVm() {
    quit = true;
    (void)gate->release_all();
    for (auto& t : threads) t.join();
    ::close(null_fd);
  }
  void loop(unsigned i) {
    while (!quit) {
      gate->before_run(i);
      ++entries;
      // Simulated KVM_RUN: a guest spinning until kicked.
      while (!quit && !std::atomic_ref<__u8>(runs[i]->immediate_exit).load()) ::usleep(200);
      runs[i]->exit_reason = KVM_EXIT_INTR;
      CHECK(gate->on_exit(i, EINTR));
    }
    gate->thread_exited(i);
  }
};

template <typename F>
bool eventually(F f) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace

TEST_CASE("VcpuGate stops every vCPU thread, resumes them, and releases them", "[vcpu_gate]") {
  FakeVm vm;
  std::atomic<int> notified{0};
  vm.gate->set_stop_notifier([&] { ++notified; });
  REQUIRE(vm.gate->running());
  REQUIRE(eventually([&] { return vm.entries >= FakeVm::kVcpus; }));
  for (unsigned i = 0; i < FakeVm::kVcpus; ++i) CHECK_FALSE(vm.gate->parked(i));

  vm.gate->interrupt();
  REQUIRE(eventually([&] { return !vm.gate->running(); }));
  // The gate stops counting as running before it calls the notifier.
  CHECK(eventually([&] { return notified == 1; }));
  for (unsigned i = 0; i < FakeVm::kVcpus; ++i) CHECK(vm.gate->parked(i));
  auto stop = vm.gate->poll_stop();
  REQUIRE(stop);
  CHECK(stop->reason == kvm::StopReason::Interrupted);
  CHECK(stop->vcpu < FakeVm::kVcpus);
  CHECK_FALSE(vm.gate->poll_stop());  // reported once

  // While stopped, nothing runs: the entry count stays put.
  const unsigned before = vm.entries;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(vm.entries == before);

  // Continue: every vCPU re-enters, then a second interrupt stops them again.
  REQUIRE(vm.gate->resume({}, true));
  CHECK(vm.gate->running());
  REQUIRE(eventually([&] { return vm.entries >= before + FakeVm::kVcpus; }));
  auto busy = vm.gate->resume({}, true);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == EBUSY);
  vm.gate->interrupt();
  REQUIRE(eventually([&] { return !vm.gate->running(); }));
  CHECK(eventually([&] { return notified == 2; }));
  REQUIRE(vm.gate->poll_stop());

  // Stepping needs KVM_SET_GUEST_DEBUG: on a non-KVM fd the step is refused
  // with the ioctl's errno and the guest stays stopped.
  const unsigned one[] = {1};
  auto step = vm.gate->resume(one, false);
  REQUIRE_FALSE(step);
  CHECK(step.error().code == ENOTTY);
  CHECK(step.error().message.find("vCPU 1: KVM_SET_GUEST_DEBUG") == 0);
  CHECK_FALSE(vm.gate->running());
  const unsigned bad[] = {7};
  CHECK(vm.gate->resume(bad, false).error().code == ESRCH);
}

TEST_CASE("VcpuGate counts exited vCPU threads as stopped", "[vcpu_gate]") {
  FakeVm vm;
  REQUIRE(eventually([&] { return vm.entries >= FakeVm::kVcpus; }));
  vm.gate->interrupt();
  REQUIRE(eventually([&] { return !vm.gate->running(); }));
  REQUIRE(vm.gate->poll_stop());
  vm.quit = true;
  REQUIRE(vm.gate->release_all());
  for (auto& t : vm.threads) t.join();
  vm.threads.clear();
  for (unsigned i = 0; i < FakeVm::kVcpus; ++i) CHECK(vm.gate->parked(i));
  vm.gate->interrupt();  // nothing left to stop: completes at once
  CHECK_FALSE(vm.gate->running());
}

TEST_CASE("VcpuGate non-stop: one vCPU thread stops and resumes while the others run", "[vcpu_gate][nonstop]") {
  FakeVm vm;
  std::atomic<int> notified{0};
  vm.gate->set_stop_notifier([&] { ++notified; });
  REQUIRE(eventually([&] { return vm.entries >= FakeVm::kVcpus; }));
  // Entering needs the guest stopped.
  CHECK(vm.gate->set_non_stop(true).error().code == EBUSY);
  vm.gate->interrupt();
  REQUIRE(eventually([&] { return !vm.gate->running(); }));
  REQUIRE(vm.gate->poll_stop());
  REQUIRE(vm.gate->set_non_stop(true));
  const int base = notified;
  // Release vCPUs 0 and 2; 1 stays parked.
  REQUIRE(vm.gate->resume_vcpu(0, false));
  REQUIRE(vm.gate->resume_vcpu(2, false));
  // Their threads leave before_run() and enter KVM_RUN again.
  REQUIRE(eventually([&] { return !vm.gate->parked(0) && !vm.gate->parked(2); }));
  CHECK(vm.gate->resume_vcpu(0, false).error().code == EBUSY);
  CHECK(vm.gate->vcpu_running(0));
  CHECK_FALSE(vm.gate->vcpu_running(1));
  CHECK(vm.gate->parked(1));
  CHECK(vm.gate->running());
  // Stop vCPU 0 alone: its stop is reported, vCPU 2 keeps entering KVM_RUN.
  REQUIRE(vm.gate->stop_vcpu(0));
  REQUIRE(eventually([&] { return notified == base + 1; }));
  auto stop = vm.gate->poll_stop();
  REQUIRE(stop);
  CHECK(stop->vcpu == 0);
  CHECK(stop->reason == StopReason::Interrupted);
  CHECK_FALSE(vm.gate->poll_stop());
  CHECK(vm.gate->parked(0));
  CHECK_FALSE(vm.gate->vcpu_running(0));
  CHECK(vm.gate->vcpu_running(2));
  CHECK_FALSE(vm.gate->parked(2));
  // A stop asked of a stopped vCPU reports nothing; all-stop resume is refused.
  REQUIRE(vm.gate->stop_vcpu(1));
  CHECK(vm.gate->resume({}, true).error().code == EINVAL);
  CHECK(vm.gate->stop_vcpu(9).error().code == ESRCH);
  // Leaving non-stop stops every vCPU and reports nothing.
  REQUIRE(vm.gate->set_non_stop(false));
  for (unsigned i = 0; i < FakeVm::kVcpus; ++i) CHECK(vm.gate->parked(i));
  CHECK_FALSE(vm.gate->running());
  CHECK_FALSE(vm.gate->poll_stop());
  REQUIRE(vm.gate->resume({}, true));
}

TEST_CASE("VcpuGate non-stop: guest debug set on a running vCPU reaches it at re-entry, without a stop",
          "[vcpu_gate][nonstop]") {
  FakeVm vm;
  std::atomic<int> notified{0};
  vm.gate->set_stop_notifier([&] { ++notified; });
  REQUIRE(eventually([&] { return vm.entries >= FakeVm::kVcpus; }));
  vm.gate->interrupt();
  REQUIRE(eventually([&] { return !vm.gate->running(); }));
  REQUIRE(vm.gate->poll_stop());
  REQUIRE(vm.gate->set_non_stop(true));
  const int base = notified;
  const unsigned e0 = vm.entries;
  REQUIRE(vm.gate->resume_vcpu(0, false));
  REQUIRE(eventually([&] { return vm.entries == e0 + 1; }));
  // A hardware breakpoint for vCPU 0 while it is inside KVM_RUN: accepted
  // (not EBUSY); the vCPU is kicked out and its thread re-enters at once
  // (applying it in before_run()), and nothing is reported as a stop.
  kvm::GuestDebug d;
  d.control = kvm::GuestDebug::kEnable | kvm::GuestDebug::kUseHw;
  d.bcr[0] = 1;
  d.bvr[0] = 0x40080000;
  REQUIRE(vm.gate->set_guest_debug(0, d));
  REQUIRE(eventually([&] { return vm.entries == e0 + 2; }));
  CHECK(vm.gate->vcpu_running(0));
  CHECK_FALSE(vm.gate->poll_stop());
  CHECK(notified == base);
  // All-stop keeps refusing a running vCPU's debug state.
  REQUIRE(vm.gate->set_non_stop(false));
  REQUIRE(vm.gate->resume({}, true));
  REQUIRE(eventually([&] { return !vm.gate->parked(0); }));
  CHECK(vm.gate->set_guest_debug(0, d).error().code == EBUSY);
}
