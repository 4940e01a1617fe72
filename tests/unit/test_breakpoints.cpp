// Breakpoints: the resource caps (software breakpoints, hardware slots) and
// that removal gives back what insertion took; over fake guest memory, and
// through GuestTarget over the simulated guest as gdb's Z packets reach it.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <thread>

#include "introspect/breakpoints.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;
using gdbstub::BreakpointType;
using introspect::Breakpoints;

namespace {

// Guest memory as a map of 4-byte words, counting writes.
struct FakeMemory {
  std::map<std::uint64_t, gdbstub::Bytes> words;
  std::size_t writes = 0;
  Breakpoints::ReadMemory reader() {
    return [this](std::uint64_t addr, std::size_t len) -> Result<gdbstub::Bytes> {
      auto it = words.find(addr);
      if (it == words.end()) return gdbstub::Bytes(len, std::byte{0x1f});
      return it->second;
    };
  }
  Breakpoints::WriteMemory writer() {
    return [this](std::uint64_t addr, std::span<const std::byte> data) -> Status {
      ++writes;
      words[addr] = gdbstub::Bytes(data.begin(), data.end());
      return {};
    };
  }
};

}  // namespace

TEST_CASE("software breakpoints are capped, and removal gives their memory back", "[breakpoints]") {
  Breakpoints bps(kvm::DebugCaps{true, 6, 4});
  FakeMemory mem;
  const std::uint64_t base = 0x40000000;
  for (std::size_t i = 0; i < Breakpoints::kMaxSoftware; ++i)
    REQUIRE(bps.insert(BreakpointType::Software, base + 4 * i, 4, mem.reader(), mem.writer()));
  CHECK(bps.software_count() == Breakpoints::kMaxSoftware);
  // One more is refused and touches no memory; one already set is no new one.
  const std::size_t writes = mem.writes;
  const std::uint64_t extra = base + 4 * Breakpoints::kMaxSoftware;
  auto st = bps.insert(BreakpointType::Software, extra, 4, mem.reader(), mem.writer());
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ENOSPC);
  CHECK(mem.writes == writes);
  CHECK(mem.words.count(extra) == 0);
  CHECK(bps.insert(BreakpointType::Software, base, 4, mem.reader(), mem.writer()));
  CHECK(bps.software_count() == Breakpoints::kMaxSoftware);

  // Removing them one by one gives the memory back, not only the count.
  const std::size_t full = bps.software_capacity();
  CHECK(full >= Breakpoints::kMaxSoftware);
  for (std::size_t i = 0; i < Breakpoints::kMaxSoftware; ++i)
    REQUIRE(bps.remove(BreakpointType::Software, base + 4 * i, 4, mem.writer()));
  CHECK(bps.software_count() == 0);
  CHECK(bps.software_capacity() < 16);
  CHECK(bps.empty());
  // The original words are back and the cap is free again.
  CHECK(mem.words.at(base) == gdbstub::Bytes(4, std::byte{0x1f}));
  REQUIRE(bps.insert(BreakpointType::Software, extra, 4, mem.reader(), mem.writer()));
  REQUIRE(bps.remove_all(mem.writer()));
  CHECK(bps.software_capacity() == 0);
}

TEST_CASE("hardware breakpoints and watchpoints: the host's count, at most KVM's 16 registers", "[breakpoints]") {
  // A host claiming more than KVM_ARM_MAX_DBG_REGS gets 16 of each.
  Breakpoints bps(kvm::DebugCaps{true, 64, 64});
  FakeMemory mem;
  for (unsigned i = 0; i < kvm::GuestDebug::kMaxHw; ++i) {
    REQUIRE(bps.insert(BreakpointType::Hardware, 0x1000 + 4 * i, 4, mem.reader(), mem.writer()));
    REQUIRE(bps.insert(BreakpointType::Write, 0x2000 + 8 * i, 8, mem.reader(), mem.writer()));
  }
  auto hw = bps.insert(BreakpointType::Hardware, 0x3000, 4, mem.reader(), mem.writer());
  REQUIRE_FALSE(hw);
  CHECK(hw.error().code == ENOSPC);
  auto wp = bps.insert(BreakpointType::Write, 0x4000, 8, mem.reader(), mem.writer());
  REQUIRE_FALSE(wp);
  CHECK(wp.error().code == ENOSPC);
  const auto d = bps.guest_debug();
  CHECK(d.bvr[kvm::GuestDebug::kMaxHw - 1] == 0x1000 + 4 * (kvm::GuestDebug::kMaxHw - 1));
}

TEST_CASE("GuestTarget: Z0 past the software breakpoint cap is an error, z0 frees a place", "[breakpoints]") {
  introspect::SimBackend sim(introspect::SimConfig{});
  auto t = introspect::GuestTarget::create(sim, {});
  REQUIRE(t);
  auto& target = **t;
  REQUIRE(target.attach());
  const std::uint64_t base = 0x40000000;
  for (std::size_t i = 0; i < Breakpoints::kMaxSoftware; ++i)
    REQUIRE(target.insert_breakpoint(BreakpointType::Software, base + 4 * i, 4));
  const std::uint64_t extra = base + 4 * Breakpoints::kMaxSoftware;
  auto st = target.insert_breakpoint(BreakpointType::Software, extra, 4);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ENOSPC);
  gdbstub::Bytes word(4);
  REQUIRE(sim.read_phys(extra, word));
  for (unsigned i = 0; i < 4; ++i)  // still the fixture's bytes, no BRK
    CHECK(std::to_integer<unsigned>(word[i]) == introspect::SimBackend::fixture_ram_byte(extra - base + i));
  REQUIRE(target.remove_breakpoint(BreakpointType::Software, base, 4));
  REQUIRE(target.insert_breakpoint(BreakpointType::Software, extra, 4));
}

TEST_CASE("GuestTarget: a client dropped while the guest runs leaves no breakpoint behind", "[breakpoints]") {
  // The transport detaches when a client drops, whether the guest is
  // stopped or running; removing a software breakpoint needs the vCPUs
  // stopped (their registers translate the address; KVM's vCPU ioctls wait
  // for KVM_RUN), so detach stops a running guest first, then lets it run.
  introspect::SimBackend sim(introspect::SimConfig{});
  auto t = introspect::GuestTarget::create(sim, {});
  REQUIRE(t);
  auto& target = **t;
  REQUIRE(target.attach());
  const std::uint64_t base = 0x40000000, away = base + 0x2000;  // past the fixture's code: never reached
  REQUIRE(target.insert_breakpoint(BreakpointType::Software, away, 4));
  REQUIRE(target.insert_breakpoint(BreakpointType::Hardware, away + 4, 4));
  const gdbstub::ResumeAction all{gdbstub::ResumeKind::Continue, std::nullopt};
  REQUIRE(target.resume(std::span(&all, 1)));
  REQUIRE(sim.running());
  CHECK(target.detach() == Detached::Resumed);
  CHECK(sim.running());  // the guest runs on as before gdb came
  sim.interrupt();
  for (int i = 0; i < 500 && sim.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  REQUIRE_FALSE(sim.running());
  (void)sim.poll_stop();
  gdbstub::Bytes word(4);
  REQUIRE(sim.read_phys(away, word));
  for (unsigned i = 0; i < 4; ++i)  // the fixture's bytes again, no BRK
    CHECK(std::to_integer<unsigned>(word[i]) == introspect::SimBackend::fixture_ram_byte(away - base + i));
}
