// Tier 2, hostile clients: NAK floods, pipelined requests and vCont;t, as
// exact bytes over the in-memory transport (the production Session over
// GuestTarget and the simulated guest).
#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "gdbstub/session.hpp"
#include "tests/wire/wire_bytes.hpp"
#include "introspect/guest_target.hpp"
#include "introspect/sim/sim_backend.hpp"

using namespace svedbg;

namespace {

using test::frame;
using test::le64;

// The fixture's RAM at 0x40000000 + o: NOP words below 0x1000, o mod 251 above.
std::string memory_hex(std::uint64_t offset, std::size_t len) {
  std::string s;
  for (std::uint64_t o = offset; o < offset + len; ++o) {
    unsigned byte = o >= 0x1000 ? o % 251 : ((o & ~3ull) == 0xffc ? 0x14000000u : 0xd503201fu) >> (8 * (o % 4)) & 0xff;
    s += fmt::format("{:02x}", byte);
  }
  return s;
}

struct Rig {
  Rig()
      : target(std::move(*introspect::GuestTarget::create(sim, {}))), session(*target, gdbstub::SessionOptions{false}) {
    REQUIRE(target->attach());
  }
  std::string ask(std::string_view payload) { return session.feed(frame(payload)); }
  introspect::SimBackend sim{introspect::SimConfig{}};
  std::unique_ptr<introspect::GuestTarget> target;
  gdbstub::Session session;
};

}  // namespace

TEST_CASE("wire: a NAK flood after a 64 KiB reply is answered by one retransmission", "[wire]") {
  Rig r;
  const std::string reply = frame(memory_hex(0x1000, 0x10000));
  CHECK(r.ask("m40001000,10000") == "+" + reply);
  // "Packet Acknowledgment": each '-' asks for the last packet again; a run
  // of them with nothing in between asks once.
  const std::string out = r.session.feed(std::string(4096, '-'));
  REQUIRE(out.size() == reply.size());
  CHECK(out == reply);
  CHECK(r.session.feed("-") == reply);  // a later NAK is a new request
  CHECK(r.session.feed("+") == "");
  CHECK(r.ask("qC") == "+" + frame("QC1"));
}

TEST_CASE("wire: pipelined 64 KiB reads are answered in budgeted pieces, all of them", "[wire]") {
  Rig r;
  REQUIRE(r.ask("QStartNoAckMode") == "+" + frame("OK"));
  std::string requests, expected;
  for (int i = 0; i < 17; ++i) {  // the guest has 1 MiB: the 17th reads the first 64 KiB again
    requests += frame(fmt::format("m{:x},10000", 0x40000000 + 0x10000 * (i % 16)));
    expected += frame(memory_hex(0x10000 * (i % 16), 0x10000));
  }
  std::string got = r.session.feed(requests);
  CHECK(got.size() <= gdbstub::kOutputBudget + 0x20000 + 4);
  CHECK(r.session.backlogged());
  for (int rounds = 0; r.session.backlogged() && rounds < 100; ++rounds) {
    std::string more = r.session.feed("");
    CHECK(more.size() <= gdbstub::kOutputBudget + 0x20000 + 4);
    got += more;
  }
  CHECK_FALSE(r.session.backlogged());
  CHECK(got == expected);
}

TEST_CASE("wire: every feed's output stays under the cap, whatever the requests", "[wire]") {
  Rig r;
  std::string flood;
  for (int i = 0; i < 64; ++i) flood += frame("m40000000,10000") + std::string(64, '-') + frame("g");
  std::size_t total = 0;
  std::string out = r.session.feed(flood);
  for (int rounds = 0; rounds < 1000; ++rounds) {
    CHECK(out.size() <= gdbstub::kMaxPendingOutput);
    total += out.size();
    if (!r.session.backlogged()) break;
    out = r.session.feed("");
  }
  CHECK_FALSE(r.session.backlogged());
  CHECK(total > 64 * 0x20000);
}

TEST_CASE("wire: vCont;t stops (keeps stopped) and never resumes", "[wire]") {
  Rig r;
  const std::string x0 = le64(0);
  // "vCont packet": t stops the thread; in all-stop it is stopped already,
  // and the reply is a stop reply (signal 0), as gdbserver sends.
  CHECK(r.ask("vCont;t") == "+" + frame("T00thread:1;1d:" + le64(0x1d) + ";1f:" + le64(0x80000000) +
                                        ";20:" + le64(0x40000000) + ";55:" + le64(32) + ";"));
  CHECK_FALSE(r.session.running());
  CHECK(r.ask("vCont;t:2").rfind("+$T00thread:2;", 0) == 0);
  CHECK(r.ask("qC") == "+" + frame("QC2"));
  CHECK(r.ask("p0") == "+" + frame(le64(0x1000)));  // vCPU 1's x0 did not move
  CHECK(r.ask("Hg1") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame(x0));
  // The leftmost matching action wins: thread 1 stays stopped, the others step.
  CHECK(r.ask("vCont;t:1;s").rfind("+$T05thread:2;", 0) == 0);
  CHECK(r.ask("Hg1") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame(x0));
  CHECK(r.ask("Hg3") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame(le64(0x2001)));
  // Some threads stopped while the others continue cannot be had all-stop.
  CHECK(r.ask("vCont;t:1;c").rfind("+$E.", 0) == 0);
  CHECK_FALSE(r.session.running());
  CHECK(r.ask("Hg1") == "+" + frame("OK"));
  CHECK(r.ask("p0") == "+" + frame(x0));
}

TEST_CASE("wire: the first packet, not the connection, is what the session reports", "[wire]") {
  introspect::SimBackend sim(introspect::SimConfig{});
  auto target = std::move(*introspect::GuestTarget::create(sim, {}));
  int calls = 0;
  gdbstub::Session session(*target, gdbstub::SessionOptions{false});
  session.set_before_first_packet([&] { calls += target->attach() ? 1 : 100; });
  CHECK(session.feed("garbage+-+") == "");
  CHECK(calls == 0);
  CHECK_FALSE(session.seen_packet());
  CHECK(session.feed(frame("qC")) == "+" + frame("QC1"));
  CHECK(session.feed(frame("qC")) == "+" + frame("QC1"));
  CHECK(calls == 1);
  CHECK(session.seen_packet());
}
