// Tier 2: non-stop mode ("Remote Non-Stop") over an in-memory transport,
// exact bytes: QNonStop, `?` listing every stopped thread, vStopped
// draining the queue, %Stop notifications, per-thread vCont and vCtrlC,
// with the production Target (GuestTarget over the simulated guest).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "gdbstub/hex.hpp"
#include "gdbstub/session.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"
#include "tests/wire/wire_bytes.hpp"

using namespace svedbg;

namespace {

using test::frame;
using test::le64;

// "%" + payload + "#" + checksum: a notification as the stub sends it.
std::string notification(std::string_view payload) {
  std::string f = frame(payload);
  f.front() = '%';
  return f;
}

// The stop reply of sim thread `t` (vCPU t-1) standing at pc with signal sig.
std::string stop_reply(unsigned sig, unsigned t, std::uint64_t pc) {
  const unsigned v = t - 1;
  const std::uint64_t vg[] = {32, 8, 2, 4};  // fixture effective VLs 2048, 512, 128, 256 bits
  return fmt::format("T{:02x}thread:{};1d:{};1f:{};20:{};55:{};", sig, t, le64(0x1000 * v + 0x1d),
                     le64(0x80000000 + 0x1000 * v), le64(pc), le64(vg[v]));
}

struct Rig {
  Rig()
      : sim(introspect::SimConfig{}),
        target(std::move(*introspect::GuestTarget::create(sim, {}))),
        session(*target, gdbstub::SessionOptions{false}) {
    REQUIRE(target->attach());
  }
  std::string ask(std::string_view payload) { return session.feed(frame(payload)); }
  // x0 of vCPU v, read straight from the simulated guest (it must be stopped).
  std::uint64_t x0(unsigned v) {
    std::array<std::byte, 8> b{};
    REQUIRE(sim.get_one_reg(v, kvm::core_x(0), b));
    std::uint64_t x = 0;
    for (int i = 7; i >= 0; --i) x = (x << 8) | std::to_integer<unsigned>(b[i]);
    return x;
  }
  introspect::SimBackend sim;
  std::unique_ptr<introspect::GuestTarget> target;
  gdbstub::Session session;
};

}  // namespace

TEST_CASE("wire non-stop: QNonStop is advertised, switched and checked", "[wire][nonstop]") {
  Rig r;
  CHECK(r.ask("qSupported:multiprocess+") ==
        "+" + frame("PacketSize=20000;qXfer:features:read+;qXfer:threads:read+;QStartNoAckMode+;vContSupported+;"
                    "swbreak+;hwbreak+;QNonStop+"));
  // gdb in all-stop mode asks for all-stop explicitly: nothing changes.
  CHECK(r.ask("QNonStop:0") == "+" + frame("OK"));
  CHECK(r.ask("QNonStop:2") == "+" + frame("E16"));
  // Outside non-stop mode vStopped and vCtrlC are not served.
  CHECK(r.ask("vStopped") == "+" + frame(""));
  CHECK(r.ask("vCtrlC") == "+" + frame(""));
  // All-stop and running: the mode cannot change under the client.
  CHECK(r.ask("c") == "+");
  CHECK(r.ask("QNonStop:1") == "+" + frame("E10"));
  CHECK(r.session.feed("\x03").rfind("$T02thread:1;", 0) == 0);
  CHECK(r.ask("QNonStop:1") == "+" + frame("OK"));
  CHECK(r.ask("QNonStop:0") == "+" + frame("OK"));
  // Back in all-stop mode, `?` is the all-stop reply again: the last stop.
  CHECK(r.ask("?").rfind("+$T02thread:1;", 0) == 0);
}

TEST_CASE("wire non-stop: ? lists every stopped thread, vStopped drains the list", "[wire][nonstop]") {
  Rig r;
  CHECK(r.ask("QNonStop:1") == "+" + frame("OK"));
  // Entering non-stop mode, the guest runs on but for thread 1 (the
  // attach's SIGTRAP): gdb 13.1 takes one stopped thread at connect.
  CHECK(r.target->thread_running(2));
  CHECK(r.target->thread_running(3));
  CHECK(r.target->thread_running(4));
  CHECK(r.ask("?") == "+" + frame(stop_reply(5, 1, 0x40000000)));
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  // Threads 2 and 4 stopped too: `?` reports 1, 2 and 4, one at a time.
  CHECK(r.ask("vCont;t:2;t:4").rfind("+" + frame("OK") + "%Stop:T00thread:2;", 0) == 0);
  CHECK(r.ask("vStopped").rfind("+$T00thread:4;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  // Thread 1's reason is no longer the last stop's: signal 0.
  CHECK(r.ask("?") == "+" + frame(stop_reply(0, 1, 0x40000000)));
  CHECK(r.ask("vStopped").rfind("+$T00thread:2;", 0) == 0);
  CHECK(r.ask("vStopped").rfind("+$T00thread:4;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
}

TEST_CASE("wire non-stop: a step answers OK, then a %Stop notification; a second waits for vStopped",
          "[wire][nonstop]") {
  Rig r;
  CHECK(r.ask("QNonStop:1") == "+" + frame("OK"));
  CHECK(r.ask("vCont;s:1") == "+" + frame("OK") + notification("Stop:" + stop_reply(5, 1, 0x40000004)));
  // That stop is not acknowledged yet: the next is queued, not notified.
  CHECK(r.ask("vCont;s:1") == "+" + frame("OK"));
  CHECK(r.ask("vStopped") == "+" + frame(stop_reply(5, 1, 0x40000008)));
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  // Queue empty: the next stop is notified again.
  CHECK(r.ask("vCont;s:1") == "+" + frame("OK") + notification("Stop:" + stop_reply(5, 1, 0x4000000c)));
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  // A step of a running thread is ignored; non-stop resumes with vCont only.
  CHECK(r.ask("vCont;s:3") == "+" + frame("OK"));
  CHECK(r.ask("s") == "+" + frame("E.in non-stop mode, resume threads with vCont"));
}

TEST_CASE("wire non-stop: one thread runs while another is read; vCont;t stops it with signal 0", "[wire][nonstop]") {
  Rig r;
  CHECK(r.ask("QNonStop:1") == "+" + frame("OK"));
  CHECK(r.ask("vCont;c:2") == "+" + frame("OK"));
  CHECK(r.target->thread_running(2));
  CHECK_FALSE(r.target->thread_running(1));
  // The running thread's registers are refused (EBUSY), the stopped ones read.
  CHECK(r.ask("Hg2") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame("E10"));
  CHECK(r.ask("g") == "+" + frame("E10"));
  CHECK(r.ask("qThreadExtraInfo,2") == "+" + frame(gdbstub::to_hex(std::string_view("vCPU 1, running"))));
  CHECK(r.ask("Hg1") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame(le64(0)));
  CHECK(r.ask("m40000000,4") == "+" + frame("1f2003d5"));  // the guest's NOP, read while thread 2 runs
  // `t` on a stopped thread is a no-op: no stop is reported for it.
  CHECK(r.ask("vCont;t:1") == "+" + frame("OK"));
  const std::string stop = r.ask("vCont;t:2");
  CHECK(stop.rfind("+" + frame("OK") + "%Stop:T00thread:2;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  // Thread 1 did not move while thread 2 ran.
  CHECK(r.x0(0) == 0);
}

TEST_CASE("wire non-stop: vCtrlC stops the current running thread with SIGINT", "[wire][nonstop]") {
  Rig r;
  CHECK(r.ask("QNonStop:1") == "+" + frame("OK"));
  CHECK(r.ask("vCont;c") == "+" + frame("OK"));
  CHECK(r.ask("Hg3") == "+" + frame("OK"));
  CHECK(r.ask("vCtrlC").rfind("+" + frame("OK") + "%Stop:T02thread:3;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  CHECK(r.target->thread_running(1));
  CHECK_FALSE(r.target->thread_running(3));
  // The current thread stopped: the first running one takes it.
  CHECK(r.ask("vCtrlC").rfind("+" + frame("OK") + "%Stop:T02thread:1;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  CHECK(r.ask("vCont;t").rfind("+" + frame("OK") + "%Stop:T00thread:2;", 0) == 0);
  CHECK(r.ask("vStopped").rfind("+$T00thread:4;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  CHECK(r.ask("vCtrlC") == "+" + frame("OK"));  // nothing runs: nothing to stop, nothing notified
  // Detach leaves non-stop mode and lets the whole guest run.
  CHECK(r.ask("D") == "+" + frame("OK"));
  CHECK(r.sim.running());
}

TEST_CASE("wire non-stop: the other vCPUs keep counting while one is stopped", "[wire][nonstop]") {
  Rig r;
  // The fixture's NOPs end in `b .`; branch back to the first NOP instead
  // (b 0x40000000 = 0x17fffc01), so x0 counts for as long as a vCPU runs.
  CHECK(r.ask("M40000ffc,4:01fcff17") == "+" + frame("OK"));
  CHECK(r.ask("QNonStop:1") == "+" + frame("OK"));
  CHECK(r.ask("vCont;c") == "+" + frame("OK"));
  CHECK(r.ask("vCont;t:2").rfind("+" + frame("OK") + "%Stop:T00thread:2;", 0) == 0);
  CHECK(r.ask("vStopped") == "+" + frame("OK"));
  CHECK(r.ask("Hg2") == "+" + frame("OK"));
  const std::string x0_first = r.ask("p0");
  // Stop thread 1 twice, with a pause between, resuming it in between: its
  // x0 grows, thread 2's does not.
  auto x0_of_1 = [&] {
    CHECK(r.ask("vCont;t:1").rfind("+" + frame("OK") + "%Stop:T00thread:1;", 0) == 0);
    CHECK(r.ask("vStopped") == "+" + frame("OK"));
    const std::uint64_t x = r.x0(0);
    CHECK(r.ask("vCont;c:1") == "+" + frame("OK"));
    return x;
  };
  // Bounded: the sim's thread may wait for a loaded machine's CPU.
  const std::uint64_t a = x0_of_1();
  std::uint64_t b = a;
  for (int i = 0; i < 500 && b == a; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    b = x0_of_1();
  }
  CHECK(b > a);
  CHECK(r.ask("p0") == x0_first);
}
