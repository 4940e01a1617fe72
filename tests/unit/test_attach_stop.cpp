// A client's all-stop is deferred to its first request that needs the
// vCPUs (introspect/paused_guest.hpp AttachStop, GuestTarget::attach): the
// handshake is answered while the guest runs (issue 18: a 64-vCPU stop
// made gdb's qSupported reply late).
#include <catch2/catch.hpp>

#include <memory>

#include "introspect/guest_target.hpp"
#include "introspect/paused_guest.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;
using introspect::GuestTarget;
using introspect::SimBackend;

namespace {

// A target over a running simulated guest, as a client finds it after the
// previous one detached.
std::unique_ptr<GuestTarget> running_target(SimBackend& sim) {
  auto t = GuestTarget::create(sim, {});
  REQUIRE(t);
  (*t)->detach();  // the guest runs on
  REQUIRE(sim.running());
  return std::move(t).value();
}

}  // namespace

TEST_CASE("attach: the handshake's requests leave the guest running, the first register read stops it",
          "[target][attach]") {
  SimBackend sim(introspect::SimConfig{});
  auto t = running_target(sim);
  REQUIRE(t->attach());
  CHECK(sim.running());
  const std::string features[] = {"qRelocInsn+", "swbreak+"};
  t->client_features(features);
  CHECK(t->threads().size() == 4);
  CHECK(t->thread_alive(4));
  REQUIRE(t->features_document("target.xml"));
  CHECK(sim.running());
  auto stop = t->last_stop();  // gdb's `?`
  CHECK_FALSE(sim.running());
  CHECK(stop.thread == 1);
  CHECK(t->read_register(1, 0));
}

TEST_CASE("attach: a register read, a memory read or a monitor command settles the stop first", "[target][attach]") {
  for (int which = 0; which < 3; ++which) {
    SimBackend sim(introspect::SimConfig{});
    auto t = running_target(sim);
    REQUIRE(t->attach());
    REQUIRE(sim.running());
    if (which == 0) CHECK(t->read_all_registers(2));
    if (which == 1) CHECK(t->read_memory(1, 0x40000000, 16));
    if (which == 2) CHECK(t->monitor("vls"));
    CHECK_FALSE(sim.running());
  }
}

TEST_CASE("attach: a client that leaves before needing the vCPUs never stopped them", "[target][attach]") {
  SimBackend sim(introspect::SimConfig{});
  auto t = running_target(sim);
  REQUIRE(t->attach());
  t->detach();
  CHECK(sim.running());
  // The next client stops it as usual.
  REQUIRE(t->attach());
  CHECK(t->read_register(1, 0));
  CHECK_FALSE(sim.running());
}

TEST_CASE("AttachStop: begin records, settle stops once, cancel forgets", "[attach]") {
  SimBackend sim(introspect::SimConfig{});
  REQUIRE(sim.resume({}, true));
  introspect::AttachStop s;
  s.begin(sim.run_control());
  CHECK(s.pending());
  CHECK(sim.running());
  auto r = s.settle("sim", std::chrono::seconds(1));
  REQUIRE(r);
  CHECK_FALSE(*r);  // not gone
  CHECK_FALSE(sim.running());
  CHECK_FALSE(s.pending());
  REQUIRE(sim.resume({}, true));
  REQUIRE(s.settle("sim", std::chrono::seconds(1)));  // nothing begun: does nothing
  CHECK(sim.running());
  s.begin(sim.run_control());
  s.cancel();
  CHECK_FALSE(s.pending());
  REQUIRE(s.settle("sim", std::chrono::seconds(1)));
  CHECK(sim.running());
  s.begin(nullptr);  // no run control: nothing to stop
  CHECK_FALSE(s.pending());
}
